"""The chase list: ranked invoices with reasons, reminders and recorded payments."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
