"""The embedded default's digest outbox, viewable in the console."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
