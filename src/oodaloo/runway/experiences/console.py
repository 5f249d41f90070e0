"""The console's overview (runway at a glance, the 13-week chart, a week's items), its reserves and recurring items
page, and sync status."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
