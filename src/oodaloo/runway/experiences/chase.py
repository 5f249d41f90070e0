"""The chase list: ranked invoices with reasons, reminders and recorded payments."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.payables import MirrorNotSynced
from oodaloo.domains.ap.service import BillService
from oodaloo.domains.ar.payments import PAYMENT_DATE_MAX_DAYS_BACK, CustomerPaymentService, RecordPaymentIn
from oodaloo.domains.ar.reminders import ReminderService
from oodaloo.domains.ar.schemas import CollectionsOut, OpenInvoiceOut
from oodaloo.domains.ar.service import ReceivablesService
from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.plan_schemas import RecordPaymentItem, SendReminderItem
from oodaloo.domains.qbo.mirror_repository import SyncStateRepository
from oodaloo.infra.web.errors import NotFound
from oodaloo.runway.deps import BusinessContext, SessionDep
from oodaloo.runway.experiences.board import (
    ActionView,
    added_to_plan,
    draft_summary,
    form_key,
    new_key,
    one_action,
    page_context,
    parsed,
    returned_result,
)
from oodaloo.runway.experiences.page_actions import OnPage, Posted, PostedForm, answered, panel_routes
from oodaloo.runway.experiences.web import PageBusiness, render
from oodaloo.runway.routes.action_deps import FreshnessDep, InvoiceId, RunnerDep, acting_member
from oodaloo.runway.routes.plans import Plans

router = APIRouter(include_in_schema=False)

INVOICE_PAGE, INVOICE_ROW = "console/chase_invoice.html", "console/chase_panel_row.html"

# What the deposit-to choice sends for QuickBooks' Undeposited Funds (the API's ``deposit_to_account_id: null``).
UNDEPOSITED = ""


@dataclass(frozen=True)
class ChaseView:
    """The overdue invoices ranked for chasing (``GET .../collections``), and the open ones not yet due."""

    collections: CollectionsOut
    not_due: list[OpenInvoiceOut]

    def find(self, invoice_id: str) -> OpenInvoiceOut | None:
        ranked = (item.invoice for item in self.collections.invoices)
        return next((invoice for invoice in (*ranked, *self.not_due) if invoice.invoice_id == invoice_id), None)


class InvoiceNotOpen(NotFound):
    code = "invoice_not_found"

    def __init__(self, invoice_id: str) -> None:
        super().__init__(f"Invoice {invoice_id} is not open in this business's books.", field="invoice_id")


async def chase_view(context: BusinessContext, session: AsyncSession) -> ChaseView:
    business = context.business
    # The mirror is what the list is read from: until a first full sync it proves nothing (no invoices is not "paid").
    await SyncStateRepository(session, business.id).require_synced(business.qbo_realm_id)
    receivables = ReceivablesService(session, business.id, business.timezone)
    collections = await receivables.collections()
    not_due = [invoice for invoice in await receivables.open_invoices("open") if invoice.days_overdue <= 0]
    return ChaseView(collections, not_due)


@router.get("/businesses/{business_id}/chase", response_class=HTMLResponse)
async def chase_page(
    request: Request,
    business_id: uuid.UUID,
    context: PageBusiness,
    session: SessionDep,
    plans: Plans,
    action: uuid.UUID | None = None,
    plan: uuid.UUID | None = None,
) -> HTMLResponse:
    """The chase list. After a full-page form, ``action`` names the reminder or payment whose receipt to show and
    ``plan`` the plan an item was added to (both read back from the books)."""
    page = page_context(context, "chase")
    try:
        view = await chase_view(context, session)
    except MirrorNotSynced:
        return render(request, "console/chase.html", {**page, "waiting": True, "view": None})
    result = await returned_result(plans, context, session, action, plan)
    draft = await draft_summary(plans, business_id)
    return render(request, "console/chase.html", {**page, "view": view, "draft": draft, "result": result})


# ------------------------------------------------------------------------------------------- one invoice's panel
@panel_routes(router, "/businesses/{business_id}/chase/{invoice_id}", whole=INVOICE_PAGE, row=INVOICE_ROW)
async def _panel_context(invoice_id: InvoiceId, page: OnPage, runner: RunnerDep) -> dict[str, Any]:
    """One invoice with its forms: a page of its own without scripts, a row under the invoice with htmx."""
    view = await chase_view(page.context, page.session)
    invoice = view.find(invoice_id)
    if invoice is None:
        raise InvoiceNotOpen(invoice_id)
    accounts = await BillService(runner).pay_from_accounts(page.business_id)
    today = view.collections.as_of
    return {
        **page_context(page.context, "chase"),
        "invoice": invoice,
        "banks": [account for account in accounts if account.account_type == "Bank"],
        "today": today,
        "earliest_payment": today - timedelta(days=PAYMENT_DATE_MAX_DAYS_BACK),
        "remind_key": new_key(),
        "payment_key": new_key(),
    }


# --------------------------------------------------------------------------------------------------- the actions
async def _acted(form: PostedForm, target: str, acting: Awaitable[ActionView]) -> Response:
    """After a reminder or a payment: a full-page form goes back to the list to show its receipt; htmx gets the list
    as it is now, and the receipt in the page's result region, out of band."""

    async def listed(done: ActionView) -> Response:
        view = await chase_view(form.context, form.session)
        draft = await draft_summary(form.plans, form.business_id)
        page = page_context(form.context, "chase", view=view, draft=draft, result={"action": done})
        return render(form.request, "console/chase_list_answer.html", page)

    def back(done: ActionView) -> str:
        return form.url("chase", f"?action={done.action_id}#result")

    return await answered(form, target, acting, back, listed)


@router.post("/businesses/{business_id}/chase/{invoice_id}/remind", response_class=HTMLResponse)
async def send_reminder(
    invoice_id: InvoiceId,
    form: Posted,
    runner: RunnerDep,
    freshness: FreshnessDep,
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    """Email the invoice through QuickBooks (``POST .../invoices/{invoice_id}/reminders``), once per rendered form;
    refused, saying when the next may go, while its customer is within the 3-day cool-down."""
    form.check(Capability.ACT)

    async def sending() -> ActionView:
        key = form_key(idempotency_key)
        actor = await acting_member(form.context, form.session)
        out, _ = await ReminderService(runner, freshness).send(actor, invoice_id, key)
        return await one_action(form.session, form.business_id, out.action_id, repeated=out.repeated)

    return await _acted(form, f"#invoice-{invoice_id}-remind-message", sending())


@router.post("/businesses/{business_id}/chase/{invoice_id}/payment", response_class=HTMLResponse)
async def record_payment(
    invoice_id: InvoiceId,
    form: Posted,
    runner: RunnerDep,
    amount: Annotated[str, Form()] = "",
    deposit_to_account_id: Annotated[str, Form()] = UNDEPOSITED,
    payment_date: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    """Record a payment received against the invoice in QuickBooks (``POST .../invoices/{invoice_id}/payments``),
    deposited to the chosen bank account or to Undeposited Funds, once per rendered form."""
    form.check(Capability.ACT)

    async def recording() -> ActionView:
        body = _payment_body(amount, deposit_to_account_id, payment_date)
        key = form_key(idempotency_key)
        actor = await acting_member(form.context, form.session)
        out, _ = await CustomerPaymentService(runner).record(actor, invoice_id, body, key)
        return await one_action(form.session, form.business_id, out.action_id, repeated=out.repeated)

    return await _acted(form, f"#invoice-{invoice_id}-payment-message", recording())


def _payment_body(amount: str, deposit_to: str, payment_date: str) -> RecordPaymentIn:
    return parsed(
        RecordPaymentIn,
        amount=amount,
        deposit_to_account_id=deposit_to or None,
        payment_date=payment_date or None,
    )


@router.post("/businesses/{business_id}/chase/{invoice_id}/plan-items/reminder", response_class=HTMLResponse)
async def add_reminder_to_plan(invoice_id: InvoiceId, form: Posted) -> Response:
    """Add "send a reminder" to the draft plan (advisors prepare it; the owner approves)."""
    form.check(Capability.PROPOSE)

    def item() -> SendReminderItem:
        return SendReminderItem(kind="invoice.send_reminder", invoice_id=invoice_id)

    return await added_to_plan(form, item, target=f"#invoice-{invoice_id}-remind-message", page="chase")


@router.post("/businesses/{business_id}/chase/{invoice_id}/plan-items/payment", response_class=HTMLResponse)
async def add_payment_to_plan(
    invoice_id: InvoiceId,
    form: Posted,
    amount: Annotated[str, Form()] = "",
    deposit_to_account_id: Annotated[str, Form()] = UNDEPOSITED,
    payment_date: Annotated[str, Form()] = "",
) -> Response:
    """Add "record this payment" to the draft plan."""
    form.check(Capability.PROPOSE)

    def item() -> RecordPaymentItem:
        body = _payment_body(amount, deposit_to_account_id, payment_date)
        return RecordPaymentItem(
            kind="invoice.record_payment",
            invoice_id=invoice_id,
            amount=str(body.amount),
            deposit_to_account_id=body.deposit_to_account_id,
            payment_date=body.payment_date,
        )

    return await added_to_plan(form, item, target=f"#invoice-{invoice_id}-payment-message", page="chase")
