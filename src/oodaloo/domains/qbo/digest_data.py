"""PLACEHOLDER (being written): the mirror's data for the digest experience, read through QBODataService."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business


@dataclass(frozen=True)
class DigestData:
    """Replace with the real shape."""


async def load_digest_data(session: AsyncSession, business: Business, today: date) -> DigestData:
    raise NotImplementedError("being written")
