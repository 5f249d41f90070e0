"""An action's receipt: what QuickBooks made (entity, id, SyncToken) and, field by field, whether its answer matches
what was asked (amount, the linked bill or invoice, the account). Kept in the action log's result, so every kind of
action shows one the same way."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def receipt(
    *,
    qbo_entity: str,
    qbo_id: str,
    sync_token: str | None,
    asked: Mapping[str, Any],
    answered: Mapping[str, Any],
    **details: Any,
) -> dict[str, Any]:
    """``asked`` and ``answered`` name the same fields; each is compared by value (amounts as Decimals, so "50" and
    "50.00" match). ``details`` are kept beside (dates, names) for people to read."""
    matches = {name: _same(value, answered.get(name)) for name, value in asked.items()}
    return {
        "qbo_entity": qbo_entity,
        "qbo_id": qbo_id,
        "sync_token": sync_token,
        "asked": {name: _text(value) for name, value in asked.items()},
        "answered": {name: _text(answered.get(name)) for name in asked},
        "matches": matches,
        "matched": all(matches.values()),
        **{name: _text(value) for name, value in details.items()},
    }


def _same(asked: Any, answered: Any) -> bool:
    if isinstance(asked, Decimal) or isinstance(answered, Decimal):
        try:
            return Decimal(str(asked)) == Decimal(str(answered))
        except ArithmeticError:
            return False
    return bool(asked == answered)


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
