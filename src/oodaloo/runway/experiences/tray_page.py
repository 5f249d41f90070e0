"""The prep tray's page fragment and JSON route."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
