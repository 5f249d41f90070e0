"""Onboarding: sign up, create a business, connect and disconnect QBO, the first sync's progress."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
