"""Core domain: businesses, users, memberships with roles, sign-in sessions and API tokens."""
