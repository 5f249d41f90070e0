"""PLACEHOLDER (being written): the mirror's data for the tray experience, read through QBODataService."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business


@dataclass(frozen=True)
class TrayData:
    """Replace with the real shape."""


async def load_tray_data(session: AsyncSession, business: Business, today: date) -> TrayData:
    raise NotImplementedError("being written")
