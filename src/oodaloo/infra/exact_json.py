"""JSON read with exact amounts: every number with a fraction or exponent becomes a Decimal, never a float — the
stdlib's ``json.loads(text, parse_float=Decimal)`` — decoded by msgspec in a fraction of the stdlib's time (QBO's
answers, and the mirror's stored objects the runway reads back by the thousand; ADR 0008)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def loads_exact(document: str | bytes) -> Any:
    """``document`` parsed; ValueError when it is not JSON."""
    try:
        return _DECODER.decode(document)
    except msgspec.DecodeError as error:
        raise ValueError(f"not JSON: {error}") from error
