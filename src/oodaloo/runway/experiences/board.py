"""The Must Pay / Can Delay board: move a bill, change its planned date, pay part, each with its runway impact."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
