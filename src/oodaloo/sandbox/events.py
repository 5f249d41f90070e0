"""Change events the store emits on every write; webhooks (and anything else) subscribe to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChangeEvent:
    realm_id: str
    entity: str  # canonical name, e.g. "Bill"
    entity_id: str
    operation: str  # "Create", "Update", "Delete", "Void", "Emailed", "Merge"
    at: datetime  # aware


ChangeListener = Callable[[ChangeEvent], None]
