"""The plan (review, propose, approve, execute with live progress and receipts), action history and drift alerts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
