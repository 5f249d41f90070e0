"""Receivables, read by any member from the business's mirror of QuickBooks:
``GET /api/businesses/{business_id}/invoices`` (open or overdue, with when each is expected to be paid),
``.../customers`` and ``.../customers/{customer_id}`` (with how each pays), ``.../collections`` (whom to chase)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ar.collections import AgingBucket
from oodaloo.domains.ar.schemas import (
    QBO_ID_MAX_LENGTH,
    CollectionsOut,
    CustomerDetailOut,
    CustomerOut,
    InvoiceStatus,
    OpenInvoiceOut,
)
from oodaloo.domains.ar.service import ReceivablesService
from oodaloo.runway.deps import BusinessAccess, BusinessContext, SessionDep

router = APIRouter(tags=["receivables"])


def receivables_of(access: BusinessContext, session: AsyncSession) -> ReceivablesService:
    return ReceivablesService(session, access.business.id, access.business.timezone)


CustomerId = Annotated[str, Path(min_length=1, max_length=QBO_ID_MAX_LENGTH)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such business for the caller, or no such customer in its QuickBooks data"}
}


@router.get("/api/businesses/{business_id}/invoices")
async def list_invoices(
    business_id: uuid.UUID,
    access: BusinessAccess,
    session: SessionDep,
    status: Annotated[
        InvoiceStatus, Query(description="open: every invoice with a balance; overdue: those past their due date.")
    ] = "open",
    aging: Annotated[AgingBucket | None, Query(description="Only the invoices of this aging bucket.")] = None,
    customer_id: Annotated[
        str | None, Query(min_length=1, max_length=QBO_ID_MAX_LENGTH, description="Only this customer's invoices.")
    ] = None,
) -> list[OpenInvoiceOut]:
    """The invoices with a balance today (in the business's time zone), oldest due first, each with when it is
    expected to be paid (an early and a late date, and why) from its customer's payment history."""
    return await receivables_of(access, session).open_invoices(status, aging, customer_id)


@router.get("/api/businesses/{business_id}/customers")
async def list_customers(business_id: uuid.UUID, access: BusinessAccess, session: SessionDep) -> list[CustomerOut]:
    """Customers with what they owe and how they pay (median and spread of days late, recent trend, share paid
    late), those owing the most overdue first."""
    return await receivables_of(access, session).customers()


@router.get("/api/businesses/{business_id}/customers/{customer_id}", responses=NOT_FOUND)
async def get_customer(
    business_id: uuid.UUID, customer_id: CustomerId, access: BusinessAccess, session: SessionDep
) -> CustomerDetailOut:
    """One customer, how it pays, and its open invoices."""
    return await receivables_of(access, session).customer(customer_id)


@router.get("/api/businesses/{business_id}/collections")
async def get_collections(business_id: uuid.UUID, access: BusinessAccess, session: SessionDep) -> CollectionsOut:
    """Overdue invoices ranked for chasing (amount x months overdue x the chance it will not arrive soon at its
    customer's usual pace), each with its reason; and the aging of everything open."""
    return await receivables_of(access, session).collections()
