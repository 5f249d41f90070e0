"""The test drive: a scenario's console without an account, on a sandbox company of its own."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
