"""The canonical form of an action's payload: what is stored, handed to handlers and hashed for idempotency."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID


def canonical_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy: Decimals become plain strings ("100.00" and "100" alike become "100"), UUIDs and dates strings.

    Floats are refused: money is Decimal, and a float's repr would make equal amounts hash differently.
    """
    canonical = _canonical(payload, "payload")
    assert isinstance(canonical, dict)
    return canonical


def payload_digest(kind: str, canonical: dict[str, Any]) -> str:
    """sha256 over the kind and the canonical payload as sorted-key JSON: equal requests hash equal."""
    text = json.dumps({"kind": kind, "payload": canonical}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{path} must be a finite amount")
        # normalize() drops trailing zeros; format "f" keeps it out of exponent notation ("1E+2").
        return format(value.normalize(), "f")
    if isinstance(value, float):
        raise TypeError(f"{path} is a float; pass amounts as Decimal")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{path} has a non-string key")
        return {key: _canonical(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{path}[{index}]") for index, item in enumerate(value)]
    raise TypeError(f"{path} has an unsupported type {type(value).__name__}")
