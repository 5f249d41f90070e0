"""What the test drive page shows of a trial's company, read from the mirror through QBODataService: its name, the
scenario (or that it is the visitor's own company, read-only), when the trial ends, and a few counts that say the
books are real — customers and vendors, open invoices (and how many are overdue) and open bills, with their totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import Business
from oodaloo.domains.core.trial_models import Trial, TrialKind
from oodaloo.domains.qbo.mirror_models import (
    MirroredBill,
    MirroredCompanyInfo,
    MirroredCustomer,
    MirroredInvoice,
    MirroredVendor,
    MirrorStatus,
    NameListRow,
    TransactionRow,
)
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class OpenItems:
    count: int
    total: Decimal


@dataclass(frozen=True)
class TestDriveData:
    """A trial's company as the test drive page shows it. Counts are zero until the first sync (``synced``)."""

    company_name: str
    kind: TrialKind | None  # None: the business is not a trial
    scenario: str | None
    expires_at: datetime | None
    synced: bool
    customers: int
    vendors: int
    open_invoices: OpenItems
    overdue_invoices: int
    open_bills: OpenItems

    @property
    def read_only(self) -> bool:
        return self.kind is TrialKind.READ_ONLY


async def load_test_drive_data(session: AsyncSession, business: Business, today: date) -> TestDriveData:
    trial = await session.scalar(select(Trial).where(Trial.business_id == business.id))
    company_name = await session.scalar(
        select(MirroredCompanyInfo.company_name).where(_live(MirroredCompanyInfo, business))
    )
    open_invoice = _live(MirroredInvoice, business) & (MirroredInvoice.balance > 0)
    overdue = await session.scalar(
        select(func.count(MirroredInvoice.id)).where(open_invoice, MirroredInvoice.due_date < today)
    )
    return TestDriveData(
        company_name=company_name or business.name,
        kind=trial.kind if trial is not None else None,
        scenario=trial.scenario if trial is not None else None,
        expires_at=trial.expires_at if trial is not None else None,
        synced=await SyncStateRepository(session, business.id).synced(),
        customers=await _active_names(session, MirroredCustomer, business),
        vendors=await _active_names(session, MirroredVendor, business),
        open_invoices=await _open(session, MirroredInvoice, open_invoice),
        overdue_invoices=int(overdue or 0),
        open_bills=await _open(session, MirroredBill, _live(MirroredBill, business) & (MirroredBill.balance > 0)),
    )


def _live(model: type[MirroredCompanyInfo | NameListRow | TransactionRow], business: Business) -> ColumnElement[bool]:
    return (model.business_id == business.id) & (model.status == MirrorStatus.ACTIVE)


async def _active_names(session: AsyncSession, model: type[NameListRow], business: Business) -> int:
    count = await session.scalar(select(func.count(model.id)).where(_live(model, business)))
    return int(count or 0)


async def _open(
    session: AsyncSession, model: type[MirroredInvoice | MirroredBill], where: ColumnElement[bool]
) -> OpenItems:
    row = (await session.execute(select(func.count(model.id), func.sum(model.balance)).where(where))).one()
    return OpenItems(count=int(row[0] or 0), total=Decimal(row[1] or ZERO))
