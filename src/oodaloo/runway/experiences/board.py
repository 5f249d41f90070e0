"""The Must Pay / Can Delay board: move a bill, change its planned date, pay part, each with its runway impact; and
what the console's action pages share (form values, impacts in words, action receipts, the draft plan)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.ap.decisions import BillClass
from oodaloo.domains.ap.delay import DELAY_BILL, DelayBillIn, DelayService, bill_name
from oodaloo.domains.ap.payables import MirrorNotSynced, PayablesService
from oodaloo.domains.ap.schemas import (
    QBO_ID_MAX_LENGTH,
    BillBoardOut,
    BillPlanPatch,
    BoardBillOut,
    PayBillIn,
    PayFromAccountOut,
)
from oodaloo.domains.ap.service import BillService
from oodaloo.domains.ar.payments import invoice_name
from oodaloo.domains.ar.reminders import REMINDER_COOLDOWN, SEND_REMINDER
from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.action_runner import Actor
from oodaloo.domains.core.actions import ActionLogRepository
from oodaloo.domains.core.impact import ActionImpactOut, kept_impacts
from oodaloo.domains.core.models import User, today_in
from oodaloo.domains.core.plan_models import PlanStatus
from oodaloo.domains.core.plan_schemas import DelayBillItem, PayBillItem, PlanIn, PlanItemsIn, PlanOut
from oodaloo.domains.core.plans import PlanService
from oodaloo.domains.core.repository import UserRepository
from oodaloo.domains.qbo.mirror_models import MirroredAccount, MirroredBill, MirroredInvoice
from oodaloo.domains.qbo.mirror_repository import MirrorRepository
from oodaloo.infra.jobs.models import ActionStatus, QBOAction
from oodaloo.infra.jobs.smart_sync import QBOUnavailable
from oodaloo.infra.web.errors import AppError, InvalidInput, NotFound
from oodaloo.runway.core.forecast import HORIZON_DAYS, WEEKS, Runway
from oodaloo.runway.core.schemas import ImpactIn, ImpactOut, RunwayOut
from oodaloo.runway.core.service import RunwayService
from oodaloo.runway.deps import BusinessContext, SessionDep
from oodaloo.runway.experiences.page_actions import (
    OnPage,
    Posted,
    PostedForm,
    answered,
    is_htmx,
    panel_routes,
    refused,
)
from oodaloo.runway.experiences.phrases import day
from oodaloo.runway.experiences.web import PageBusiness, render
from oodaloo.runway.routes.action_deps import BillId, RunnerDep, acting_member
from oodaloo.runway.routes.plans import Plans

router = APIRouter(include_in_schema=False)

M = TypeVar("M", bound=BaseModel)
# What a form field is called on the page, for refusals that name it.
FIELD_LABELS = {
    "amount": "Amount",
    "pay_from_account_id": "Pay from",
    "planned_pay_date": "Planned pay date",
    "deposit_to_account_id": "Deposit to",
    "payment_date": "Payment date",
    "column": "Column",
}
# What each kind of action is called beside its bill or invoice (a noun: it reads right whatever its outcome).
ACTION_NAMES = {
    "bill.pay": "Payment of",
    "bill.delay": "New planned pay date for",
    "bill.schedule_payment": "Scheduled payment of",
    "invoice.record_payment": "Payment received on",
    "invoice.send_reminder": "Reminder for",
}
STATUS_WORDS = {
    ActionStatus.PENDING: "waiting to be sent",
    ActionStatus.IN_FLIGHT: "being sent to QuickBooks",
    ActionStatus.SUCCEEDED: "done",
    ActionStatus.FAILED: "failed",
    ActionStatus.PENDING_VERIFICATION: "sent; being confirmed with QuickBooks",
}


# ---------------------------------------------------------------------------------------------- forms and their values
def parsed(model: type[M], **values: Any) -> M:
    """A form's values as the API's body, refused (422) naming the field as the page labels it."""
    try:
        return model.model_validate(values)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        label = FIELD_LABELS.get(field or "", field or "The form")
        reason = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{label}: {reason}", field=field) from None


def page_context(context: BusinessContext, active: str, **more: Any) -> dict[str, Any]:
    grant = context.grant
    return {
        "business": context.business,
        "grant": grant,
        "user": context.user,
        "active": active,
        "can_propose": grant.allows(Capability.PROPOSE),
        "can_act": grant.allows(Capability.ACT),
        "decimal": Decimal,  # the API's money strings as Decimals, for the ``money`` filter
        **more,
    }


def new_key() -> str:
    """A form's idempotency key: one per rendered form, so submitting it twice acts once."""
    return str(uuid.uuid4())


# ---------------------------------------------------------------------------------------------- impacts in words
def _weeks(days: int | None) -> Decimal | None:
    return Runway(days, None).weeks


@dataclass(frozen=True)
class ImpactView:
    """A runway before and after a change, as the console says it: "runway 6.9 → 8.1 weeks (+8 days)"."""

    before_days: int | None  # None: beyond the 13-week horizon
    after_days: int | None
    lowest_before: Decimal
    lowest_after: Decimal
    ending_before: Decimal
    ending_after: Decimal

    @classmethod
    def of_whatif(cls, out: ImpactOut) -> ImpactView:
        return cls(
            out.before.days,
            out.after.days,
            out.lowest_free_cash_before,
            out.lowest_free_cash_after,
            out.ending_cash_before,
            out.ending_cash_after,
        )

    @classmethod
    def of_action(cls, out: ActionImpactOut) -> ImpactView:
        return cls(
            out.before.days,
            out.after.days,
            Decimal(out.lowest_free_cash_before),
            Decimal(out.lowest_free_cash_after),
            Decimal(out.ending_cash_before),
            Decimal(out.ending_cash_after),
        )

    @classmethod
    def unchanged(cls, runway: RunwayOut) -> ImpactView:
        days = runway.runway.days
        return cls(days, days, runway.lowest_free_cash, runway.lowest_free_cash, runway.ending_cash, runway.ending_cash)

    @property
    def change_days(self) -> int | None:
        if self.before_days is None or self.after_days is None:
            return None
        return self.after_days - self.before_days

    @property
    def better(self) -> bool | None:
        """Whether the runway (or, beyond the horizon, the lowest free cash) rises; None when nothing moves."""
        change = self.change_days
        if change is None and (self.before_days is None) != (self.after_days is None):
            return self.after_days is None
        if change:
            return change > 0
        if self.lowest_after != self.lowest_before:
            return self.lowest_after > self.lowest_before
        return None

    @property
    def headline(self) -> str:
        before, after = _weeks(self.before_days), _weeks(self.after_days)
        if before is None and after is None:
            return f"runway stays beyond {WEEKS} weeks"
        if before is not None and after is not None:
            text = f"runway {before} → {after} weeks"
        else:
            text = f"runway {_span(before)} → {_span(after)}"
        change = self.change_days
        if change is not None:
            text += " (no change)" if change == 0 else f" ({change:+d} {'day' if abs(change) == 1 else 'days'})"
        return text


def _span(weeks: Decimal | None) -> str:
    return f"beyond {WEEKS} weeks" if weeks is None else f"{weeks} weeks"


# --------------------------------------------------------------------------------------------------- names
@dataclass(frozen=True)
class Names:
    """What people call the bills, invoices and accounts an action or plan item names (their QuickBooks ids when
    the mirror does not have them)."""

    bills: dict[str, str]
    invoices: dict[str, str]
    accounts: dict[str, str]
    users: dict[uuid.UUID, str]

    def bill(self, bill_id: Any) -> str:
        return self.bills.get(str(bill_id), f"bill #{bill_id}")

    def invoice(self, invoice_id: Any) -> str:
        return self.invoices.get(str(invoice_id), f"invoice #{invoice_id}")

    def account(self, account_id: Any) -> str | None:
        if account_id in (None, ""):
            return None
        return self.accounts.get(str(account_id), f"account #{account_id}")

    def user(self, user_id: uuid.UUID | None) -> str | None:
        if user_id is None:
            return None
        return self.users.get(user_id, "a former member")


async def names_of(
    session: AsyncSession,
    business_id: uuid.UUID,
    requests: Iterable[dict[str, Any]],
    users: Iterable[uuid.UUID | None] = (),
) -> Names:
    """The names for everything ``requests`` (action payloads, plan item requests) refer to, in four queries."""
    wanted: dict[str, set[str]] = {"bill_id": set(), "invoice_id": set(), "account": set()}
    for request in requests:
        for key in ("bill_id", "invoice_id"):
            if request.get(key):
                wanted[key].add(str(request[key]))
        for key in ("account_id", "pay_from_account_id", "deposit_account_id", "deposit_to_account_id"):
            if request.get(key):
                wanted["account"].add(str(request[key]))
    bills = await MirrorRepository.of(session, business_id, "Bill").by_qbo_ids(wanted["bill_id"])
    invoices = await MirrorRepository.of(session, business_id, "Invoice").by_qbo_ids(wanted["invoice_id"])
    accounts = await MirrorRepository.of(session, business_id, "Account").by_qbo_ids(wanted["account"])
    user_ids = {user_id for user_id in users if user_id is not None}
    people = await UserRepository(session).many(user_ids) if user_ids else []
    return Names(
        bills={key: bill_name(row) for key, row in bills.items() if isinstance(row, MirroredBill)},
        invoices={key: invoice_name(row) for key, row in invoices.items() if isinstance(row, MirroredInvoice)},
        accounts={key: row.name or key for key, row in accounts.items() if isinstance(row, MirroredAccount)},
        users={person.id: _person(person) for person in people},
    )


def _person(user: User) -> str:
    return user.display_name or user.email


# ------------------------------------------------------------------------------------------------ action receipts
@dataclass(frozen=True)
class ActionView:
    """One action of the action log as a person reads it: what was done to what, by whom, how it ended, QuickBooks'
    id for it and the runway impact it was answered with."""

    action_id: uuid.UUID
    kind: str
    label: str  # what the action is, beside its subject: "Payment of"
    subject: str
    amount: Decimal | None
    account: str | None
    on: date | None
    sent_to: str | None
    status: ActionStatus
    qbo_entity: str | None
    qbo_id: str | None
    matched: bool | None
    error: str | None
    impact: ImpactView | None
    requested_by: str | None
    created_at: datetime
    next_reminder_from: datetime | None
    repeated: bool = False

    @property
    def status_words(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def succeeded(self) -> bool:
        return self.status is ActionStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status is ActionStatus.FAILED


def action_view(row: QBOAction, names: Names, impact: ActionImpactOut | None) -> ActionView:
    payload = row.payload or {}
    result = row.result or {}
    document = payload.get("bill_id") or payload.get("invoice_id")
    subject = names.bill(document) if payload.get("bill_id") else names.invoice(document)
    amount = payload.get("amount")
    on = payload.get("planned_pay_date") or payload.get("txn_date") or payload.get("pay_on")
    account = payload.get("account_id") or payload.get("deposit_account_id")
    succeeded = row.status is ActionStatus.SUCCEEDED
    reminded = row.kind == SEND_REMINDER and succeeded
    return ActionView(
        action_id=row.id,
        kind=row.kind,
        label=ACTION_NAMES.get(row.kind, row.kind),
        subject=subject,
        amount=Decimal(str(amount)) if amount is not None else None,
        account=names.account(account),
        on=date.fromisoformat(str(on)) if on else None,
        sent_to=str(payload["send_to"]) if payload.get("send_to") else None,
        status=row.status,
        qbo_entity=row.qbo_entity if row.kind != DELAY_BILL else None,
        qbo_id=row.qbo_id if row.kind != DELAY_BILL else None,
        matched=result.get("matched") if succeeded and isinstance(result.get("matched"), bool) else None,
        error=row.error_message if row.status is ActionStatus.FAILED else None,
        impact=ImpactView.of_action(impact) if impact is not None else None,
        requested_by=names.user(row.requested_by),
        created_at=row.created_at,
        next_reminder_from=(row.completed_at or row.created_at) + REMINDER_COOLDOWN if reminded else None,
    )


async def action_views(session: AsyncSession, business_id: uuid.UUID, rows: Sequence[QBOAction]) -> list[ActionView]:
    impacts = await kept_impacts(session, business_id, [row.id for row in rows])
    names = await names_of(session, business_id, [row.payload or {} for row in rows], [r.requested_by for r in rows])
    return [action_view(row, names, impacts.get(row.id)) for row in rows]


class ActionNotFoundHere(NotFound):
    code = "action_not_found"
    message = "No such action in this business."


async def one_action(
    session: AsyncSession, business_id: uuid.UUID, action_id: uuid.UUID, *, repeated: bool = False
) -> ActionView:
    row = await ActionLogRepository(session, business_id).get(action_id)
    if row is None:
        raise ActionNotFoundHere()
    (view,) = await action_views(session, business_id, [row])
    return replace(view, repeated=repeated)


# --------------------------------------------------------------------------------------------------- the draft plan
@dataclass(frozen=True)
class PlanAdded:
    """Items added to the business's draft plan, and what the whole plan does to the runway."""

    plan: PlanOut
    impact: ImpactView | None
    created: bool


def draft_title(today: date) -> str:
    monday = today - timedelta(days=today.weekday())
    return f"Plan for the week of {day(monday)}"


async def add_to_draft(plans: PlanService, actor: Actor, items: list[Any]) -> PlanAdded:
    """Add ``items`` to the newest draft plan, or to a new one (each checked with the plan's other items)."""
    drafts = await plans.listed(actor.business_id, PlanStatus.DRAFT)
    if drafts:
        plan = await plans.add_items(actor, drafts[0].plan_id, PlanItemsIn(items=items))
    else:
        title = draft_title(today_in(actor.timezone))
        plan = await plans.create(actor, PlanIn(title=title, items=items))
    return PlanAdded(plan, await plan_impact(plans, actor, plan), created=not drafts)


# ----------------------------------------------------------------------------------------------------- the board
@dataclass(frozen=True)
class BoardView:
    board: BillBoardOut
    runway: RunwayOut

    def find(self, bill_id: str) -> BoardBillOut | None:
        for column in (self.board.must_pay, self.board.can_delay):
            for window in column.windows:
                for vendor in window.vendors:
                    for bill in vendor.bills:
                        if bill.bill_id == bill_id:
                            return bill
        return None


class BillNotOnBoard(NotFound):
    code = "bill_not_found"

    def __init__(self, bill_id: str) -> None:
        super().__init__(f"Bill {bill_id} is not open in this business's books.", field="bill_id")


def payables(context: BusinessContext, session: AsyncSession) -> PayablesService:
    business = context.business
    return PayablesService(session, business_id=business.id, timezone=business.timezone, realm_id=business.qbo_realm_id)


async def board_view(context: BusinessContext, session: AsyncSession) -> BoardView:
    board = await payables(context, session).board()
    return BoardView(board, await RunwayService(session, context.business).summary())


async def board_bill(context: BusinessContext, session: AsyncSession, bill_id: str) -> tuple[BoardView, BoardBillOut]:
    view = await board_view(context, session)
    bill = view.find(bill_id)
    if bill is None:
        raise BillNotOnBoard(bill_id)
    return view, bill


async def draft_summary(plans: PlanService, business_id: uuid.UUID) -> Any:
    drafts = await plans.listed(business_id, PlanStatus.DRAFT)
    return drafts[0] if drafts else None


@router.get("/businesses/{business_id}/bills", response_class=HTMLResponse)
async def bills_page(
    request: Request,
    business_id: uuid.UUID,
    context: PageBusiness,
    session: SessionDep,
    plans: Plans,
    action: uuid.UUID | None = None,
    plan: uuid.UUID | None = None,
    moved: Annotated[str | None, Query(min_length=1, max_length=QBO_ID_MAX_LENGTH)] = None,
) -> HTMLResponse:
    """The board. After a full-page form (no htmx), ``action`` names the action whose receipt to show, ``plan`` the
    plan items were added to, ``moved`` a bill whose column was changed: each read back from the books, never
    echoed from the address."""
    page = page_context(context, "bills")
    try:
        view = await board_view(context, session)
    except MirrorNotSynced:
        return render(request, "console/bills.html", {**page, "waiting": True, "view": None})
    result = await returned_result(plans, context, session, action, plan)
    if moved is not None and (bill := view.find(moved)) is not None:
        result.update(name=_bill_name(bill), moved_to=bill.decision.klass, reason=bill.decision.reason)
    draft = await draft_summary(plans, context.business.id)
    return render(request, "console/bills.html", {**page, "view": view, "draft": draft, "result": result})


async def returned_result(
    plans: PlanService,
    context: BusinessContext,
    session: AsyncSession,
    action: uuid.UUID | None,
    plan: uuid.UUID | None,
) -> dict[str, Any]:
    """What a full-page form did, as the page it returned to names it: the action's receipt, the plan items were
    added to (each read back from the books, never echoed from the address)."""
    result: dict[str, Any] = {}
    if action is not None:
        result["action"] = await one_action(session, context.business.id, action)
    if plan is not None:
        result["plan"] = await plan_notice(plans, context, session, plan)
    return result


async def plan_notice(
    plans: PlanService, context: BusinessContext, session: AsyncSession, plan_id: uuid.UUID
) -> PlanAdded:
    """The plan a full-page form added items to, with what it does to the runway now."""
    actor = await acting_member(context, session)
    plan = await plans.get(actor.business_id, plan_id)
    return PlanAdded(plan, await plan_impact(plans, actor, plan), created=False)


async def plan_impact(plans: PlanService, actor: Actor, plan: PlanOut) -> ImpactView | None:
    """What the plan's items still to run do to the runway together; None when there is nothing to compare (no
    pending item, no forecast yet, or an item the books no longer allow: the plan page says which)."""
    if plan.counts.pending == 0:
        return None
    try:
        preview = await plans.preview(actor, plan.plan_id)
    except AppError:
        return None
    return ImpactView.of_action(preview.impact) if preview.impact is not None else None


# ------------------------------------------------------------------------------------------- one bill's panel
BILL_PAGE, BILL_ROW = "console/bills_bill.html", "console/bills_panel_row.html"


async def _accounts(runner: RunnerDep, business_id: uuid.UUID) -> list[PayFromAccountOut]:
    return await BillService(runner).pay_from_accounts(business_id)


@panel_routes(router, "/businesses/{business_id}/bills/{bill_id}", whole=BILL_PAGE, row=BILL_ROW)
async def _panel_context(bill_id: BillId, page: OnPage, runner: RunnerDep) -> dict[str, Any]:
    """One bill with its forms: a page of its own without scripts, a row under the bill on the board with htmx."""
    view, bill = await board_bill(page.context, page.session, bill_id)
    today = view.board.today
    return {
        **page_context(page.context, "bills"),
        "view": view,
        "bill": bill,
        "accounts": await _accounts(runner, page.business_id),
        "today": today,
        "latest_plannable": today + timedelta(days=365),
        "plan_key": new_key(),
        "pay_key": new_key(),
    }


# ------------------------------------------------------------------------------------------------ what-if previews
def _delay_change(bill_id: str, planned: date) -> dict[str, Any]:
    return {"action": "delay", "kind": "bill", "source_id": bill_id, "to": planned.isoformat()}


def _pay_change(bill_id: str, amount: Decimal, account: PayFromAccountOut | None, today: date) -> dict[str, Any]:
    """Paid from a bank account, the money leaves today; by card, no bank account moves now (the card is paid
    later): the amount leaves the bill and is dated past the horizon, as the payment's own estimate does."""
    change: dict[str, Any] = {"action": "pay", "kind": "bill", "source_id": bill_id, "amount": str(amount)}
    if account is not None and account.account_type == "Credit Card":
        change["on"] = (today + timedelta(days=HORIZON_DAYS)).isoformat()
    return change


async def whatif(context: BusinessContext, session: AsyncSession, changes: list[dict[str, Any]]) -> ImpactView:
    body = ImpactIn.model_validate({"changes": changes})
    return ImpactView.of_whatif(await RunwayService(session, context.business).impact(body))


def _column_of(value: str) -> BillClass | None:
    """``must_pay``/``can_delay``; ``rules`` (or nothing) lets the rules decide."""
    if value in ("", "rules"):
        return None
    try:
        return BillClass(value)
    except ValueError:
        raise InvalidInput("Column: choose Must Pay or Can Delay.", field="column") from None


def _preview_response(request: Request, context: dict[str, Any]) -> HTMLResponse:
    if is_htmx(request):
        return render(request, "console/bills_impact.html", context)
    # Without scripts the preview is the bill's page again, the figures under its form.
    return render(request, "console/bills_bill.html", context)


@router.post("/businesses/{business_id}/bills/{bill_id}/preview-plan", response_class=HTMLResponse)
async def preview_plan(
    bill_id: BillId,
    form: Posted,
    runner: RunnerDep,
    column: Annotated[str, Form()] = "",
    planned_pay_date: Annotated[str, Form()] = "",
) -> Response:
    """What moving the bill and planning it for ``planned_pay_date`` would do to the runway (nothing is saved)."""
    form.check(Capability.READ)
    try:
        chosen = _column_of(column)
        planned = parsed(DelayBillIn, planned_pay_date=planned_pay_date).planned_pay_date
        panel = await _panel_context(bill_id, form, runner)
        impact = await whatif(form.context, form.session, [_delay_change(bill_id, planned)])
    except (AppError, QBOUnavailable) as error:
        return refused(form.request, error, f"#bill-{bill_id}-plan-impact")
    moved = chosen is not None and chosen is not panel["bill"].decision.klass
    preview = {"impact": impact, "moved_to": chosen if moved else None, "planned": planned, "form": "plan"}
    return _preview_response(form.request, {**panel, "preview": preview})


@router.post("/businesses/{business_id}/bills/{bill_id}/preview-pay", response_class=HTMLResponse)
async def preview_pay(
    bill_id: BillId,
    form: Posted,
    runner: RunnerDep,
    amount: Annotated[str, Form()] = "",
    pay_from_account_id: Annotated[str, Form()] = "",
) -> Response:
    """What paying ``amount`` of the bill today from the account would do to the runway (nothing is paid)."""
    form.check(Capability.READ)
    try:
        body = parsed(PayBillIn, amount=amount, pay_from_account_id=pay_from_account_id)
        panel = await _panel_context(bill_id, form, runner)
        account = next((a for a in panel["accounts"] if a.account_id == body.pay_from_account_id), None)
        impact = await whatif(form.context, form.session, [_pay_change(bill_id, body.amount, account, panel["today"])])
    except (AppError, QBOUnavailable) as error:
        return refused(form.request, error, f"#bill-{bill_id}-pay-impact")
    preview = {"impact": impact, "amount": body.amount, "account": account, "form": "pay"}
    return _preview_response(form.request, {**panel, "preview": preview})


# ------------------------------------------------------------------------------------------------------- saving
async def _board_answer(form: PostedForm, result: dict[str, Any]) -> Response:
    """After a change: the board as it is now, and the result in the page's result region (htmx, out of band)."""
    view = await board_view(form.context, form.session)
    draft = await draft_summary(form.plans, form.business_id)
    page = page_context(form.context, "bills", view=view, draft=draft, result=result)
    return render(form.request, "console/bills_board_answer.html", page)


@router.post("/businesses/{business_id}/bills/{bill_id}/plan", response_class=HTMLResponse)
async def save_plan(
    bill_id: BillId,
    form: Posted,
    runner: RunnerDep,
    column: Annotated[str, Form()] = "",
    planned_pay_date: Annotated[str, Form()] = "",
    shown_planned_pay_date: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    """Move the bill to the chosen column (a class over the rules, as ``PATCH .../plan`` sets it) and, when the date
    changed from the one the form showed, plan it for that day (the ``bill.delay`` action, once per form: sent again,
    the form answers with its first result)."""
    form.check(Capability.PROPOSE)

    async def saving() -> dict[str, Any]:
        chosen = _column_of(column)
        planned = parsed(DelayBillIn, planned_pay_date=planned_pay_date).planned_pay_date
        shown = _date_or_none(shown_planned_pay_date)
        _, bill = await board_bill(form.context, form.session, bill_id)
        key = idempotency_key or new_key()
        return await _apply_plan(form.context, form.session, runner, bill, chosen, (planned, shown), key)

    def back(result: dict[str, Any]) -> str:
        parts = [f"action={result['action'].action_id}"] if "action" in result else []
        parts += [f"moved={bill_id}"] if "moved_to" in result else []
        return form.url("bills", f"?{'&'.join(parts)}#result" if parts else "")

    async def board(result: dict[str, Any]) -> Response:
        return await _board_answer(form, result)

    return await answered(form, f"#bill-{bill_id}-plan-impact", saving(), back, board)


async def _apply_plan(
    context: BusinessContext,
    session: AsyncSession,
    runner: RunnerDep,
    bill: BoardBillOut,
    chosen: BillClass | None,
    dates: tuple[date, date | None],
    key: str,
) -> dict[str, Any]:
    """The column first (our own table), then the date as an action; what changed, with the runway impact. ``dates``
    is the date asked for and the one the form showed (None: compare with the bill's planned date now)."""
    planned, shown = dates
    overridden = bill.plan is not None and bill.plan.class_override is not None
    result: dict[str, Any] = {"bill_id": bill.bill_id, "name": _bill_name(bill)}
    if (chosen is None and overridden) or (chosen is not None and chosen is not bill.decision.klass):
        patch = BillPlanPatch.model_validate({"class_override": chosen})
        moved = await payables(context, session).plan_bill(bill.bill_id, patch, context.user.id)
        result["moved_to"] = moved.decision.klass
        result["reason"] = moved.decision.reason
    if planned != (shown or bill.decision.planned_pay_date):
        actor = await acting_member(context, session)
        out, _ = await DelayService(runner).delay(actor, bill.bill_id, DelayBillIn(planned_pay_date=planned), key)
        result["action"] = await one_action(session, context.business.id, out.action_id, repeated=out.repeated)
    else:
        # Only the column moved: the forecast counts a bill on its planned date, whatever its column.
        result["unchanged"] = ImpactView.unchanged(await RunwayService(session, context.business).summary())
    return result


def _date_or_none(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _bill_name(bill: BoardBillOut) -> str:
    number = f"bill {bill.doc_number}" if bill.doc_number else f"bill #{bill.bill_id}"
    return f"{bill.vendor_name}, {number}"


@router.post("/businesses/{business_id}/bills/{bill_id}/pay", response_class=HTMLResponse)
async def pay_bill(
    bill_id: BillId,
    form: Posted,
    runner: RunnerDep,
    amount: Annotated[str, Form()] = "",
    pay_from_account_id: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    """Pay ``amount`` of the bill in QuickBooks now (``POST .../bills/{bill_id}/pay``), once per rendered form: the
    form's key is the payment's idempotency key, so a second submit answers with the first payment."""
    form.check(Capability.ACT)

    async def paying() -> ActionView:
        body = parsed(PayBillIn, amount=amount, pay_from_account_id=pay_from_account_id)
        key = form_key(idempotency_key)
        actor = await acting_member(form.context, form.session)
        answer = await BillService(runner).pay(actor, bill_id, body, key)
        return await one_action(form.session, form.business_id, answer.body.action_id, repeated=answer.body.repeated)

    def back(paid: ActionView) -> str:
        return form.url("bills", f"?action={paid.action_id}#result")

    async def board(paid: ActionView) -> Response:
        return await _board_answer(form, {"action": paid, "bill_id": bill_id})

    return await answered(form, f"#bill-{bill_id}-pay-impact", paying(), back, board)


def form_key(idempotency_key: str) -> str:
    """The form's idempotency key, refused when the form came without one."""
    if not idempotency_key:
        raise InvalidInput("The form has no key: reload the page and try again.", field="idempotency_key")
    return idempotency_key


# ------------------------------------------------------------------------------------------------- add to plan
async def added_to_plan(form: PostedForm, item: Callable[[], Any], *, target: str, page: str) -> Response:
    """Add ``item()`` (the form's values as a plan item) to the draft plan: htmx gets the message and the draft's
    line; a full-page form goes back to ``page`` (bills or chase), which reads the plan back to say what was added."""

    async def adding() -> PlanAdded:
        items = [item()]
        return await add_to_draft(form.plans, await acting_member(form.context, form.session), items)

    async def message(added: PlanAdded) -> Response:
        return render(form.request, "console/plan_added.html", page_context(form.context, "bills", added=added))

    def back(added: PlanAdded) -> str:
        return form.url(page, f"?plan={added.plan.plan_id}#result")

    return await answered(form, target, adding(), back, message)


@router.post("/businesses/{business_id}/bills/{bill_id}/plan-items/delay", response_class=HTMLResponse)
async def add_delay_to_plan(bill_id: BillId, form: Posted, planned_pay_date: Annotated[str, Form()] = "") -> Response:
    """Add "pay it on ``planned_pay_date``" to the draft plan (a ``bill.delay`` item)."""
    form.check(Capability.PROPOSE)

    def item() -> DelayBillItem:
        planned = parsed(DelayBillIn, planned_pay_date=planned_pay_date).planned_pay_date
        return DelayBillItem(kind="bill.delay", bill_id=bill_id, planned_pay_date=planned)

    return await added_to_plan(form, item, target=f"#bill-{bill_id}-plan-impact", page="bills")


@router.post("/businesses/{business_id}/bills/{bill_id}/plan-items/pay", response_class=HTMLResponse)
async def add_payment_to_plan(
    bill_id: BillId,
    form: Posted,
    amount: Annotated[str, Form()] = "",
    pay_from_account_id: Annotated[str, Form()] = "",
) -> Response:
    """Add "pay ``amount`` from the account" (all of the bill or part) to the draft plan (a ``bill.pay`` item)."""
    form.check(Capability.PROPOSE)

    def item() -> PayBillItem:
        body = parsed(PayBillIn, amount=amount, pay_from_account_id=pay_from_account_id)
        return PayBillItem(
            kind="bill.pay", bill_id=bill_id, amount=str(body.amount), pay_from_account_id=body.pay_from_account_id
        )

    return await added_to_plan(form, item, target=f"#bill-{bill_id}-pay-impact", page="bills")
