"""QBODataService: the mirror's data shaped for what a person sees (the console, the prep tray, the Friday digest and
the test drive). Only ``runway/experiences`` reads through it (import-linter contract 7); each shape is built in its
own module beside this one."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ar.collections import OpenReceivables
from oodaloo.domains.core.models import Business
from oodaloo.domains.qbo.console_data import ConsoleData, load_console_data
from oodaloo.domains.qbo.digest_data import DigestData, load_digest_data
from oodaloo.domains.qbo.test_drive_data import TestDriveData, load_test_drive_data
from oodaloo.domains.qbo.tray_data import HygieneFacts, TrayData, load_hygiene_facts, load_tray_data


class QBODataService:
    """One business's mirror, read for the experiences; every answer is as of ``today`` in the business's timezone."""

    def __init__(self, session: AsyncSession, business: Business) -> None:
        self._session = session
        self._business = business

    async def get_console_data(self, today: date) -> ConsoleData:
        return await load_console_data(self._session, self._business, today)

    async def get_tray_data(self, today: date) -> TrayData:
        return await load_tray_data(self._session, self._business, today)

    async def get_hygiene_data(self, today: date) -> HygieneFacts:
        return await load_hygiene_facts(self._session, self._business, today)

    async def get_digest_data(self, today: date, receivables: OpenReceivables | None = None) -> DigestData:
        """``receivables``: today's open invoices and customers' habits when the caller holds them (the runway's)."""
        return await load_digest_data(self._session, self._business, today, receivables)

    async def get_test_drive_data(self, today: date) -> TestDriveData:
        return await load_test_drive_data(self._session, self._business, today)
