"""The demo generator's public result types and the drafts it builds them from."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SeedOp:
    """One create request the store applies, through the same rules as an API create."""

    entity: str  # canonical QBO entity name
    body: dict[str, Any]  # create-request body with a pre-assigned numeric-string "Id"
    at: datetime  # aware; becomes MetaData.CreateTime/LastUpdatedTime


@dataclass(frozen=True)
class DemoCompany:
    """A seeded company: its settings and the chronological create requests that build its books."""

    company_info: dict[str, Any]
    preferences: dict[str, Any]
    ops: list[SeedOp]


def money(value: Decimal | int | float | str) -> Decimal:
    """Round to cents. Floats only ever come from random draws, so going through ``str`` is exact enough."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high]; ``Random.randint`` is several times slower, and this runs per row."""
    return low + int(rng.random() * (high - low + 1))


@dataclass(eq=False, slots=True)
class Draft:
    """An object to be created. Ids are assigned only once all drafts are in chronological order,
    so ``build`` runs last and may read the ``id`` of any draft it refers to."""

    entity: str
    at: datetime
    build: Callable[[], dict[str, Any]]
    seq: int
    txn_date: date | None = None
    # Effect on cash in bank accounts (Checking + Savings); what the scenario calibration works on.
    bank_delta: Decimal = ZERO
    id: str = ""

    def ref(self) -> dict[str, str]:
        return {"value": self.id}
