"""JSON encoding for the sandbox: API bodies (Decimals as JSON numbers) and the state file (Decimals tagged, exact)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from .faults import validation

_DECIMAL_TAG = "$d"


def _api_default(value: object) -> object:
    if isinstance(value, Decimal):
        # Money is 2 dp and far below 1e13, so a float's shortest repr is exactly those digits.
        return float(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """Serialize an API response body."""
    return orjson.dumps(value, default=_api_default)


def loads_request(body: bytes) -> Any:
    """Parse a request body, keeping every non-integer number as an exact Decimal; malformed → 400 fault."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation(
            2010, "Request has invalid or unsupported property", f"Error parsing object: invalid JSON ({exc})"
        ) from None


def _state_default(value: object) -> object:
    if isinstance(value, Decimal):
        return {_DECIMAL_TAG: str(value)}
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps_state(value: Any) -> bytes:
    """Serialize persisted state; Decimals become ``{"$d": "12.34"}`` so they load back exactly."""
    return orjson.dumps(value, default=_state_default)


def _revive(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DECIMAL_TAG in obj:
        return Decimal(obj[_DECIMAL_TAG])
    return obj


def loads_state(data: bytes) -> Any:
    """Inverse of :func:`dumps_state`."""
    return json.loads(data, object_hook=_revive)
