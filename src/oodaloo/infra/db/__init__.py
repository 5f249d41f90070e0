"""Database building blocks: declarative base, engines and sessions, repositories."""
