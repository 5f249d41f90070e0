"""The plan (review, propose, approve, execute with live progress and receipts), action history and drift alerts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.access import Capability
from oodaloo.domains.core.action_runner import Actor
from oodaloo.domains.core.actions import ActionFilter, ActionLogReader, ActionLogRepository
from oodaloo.domains.core.alerts import AlertOut, AlertService, AlertStatusFilter
from oodaloo.domains.core.audit import AuditLog
from oodaloo.domains.core.plan_models import PlanItemStatus, PlanStatus
from oodaloo.domains.core.plan_schemas import ApproveIn, PlanItemOut, PlanOut, PlanTransitionOut
from oodaloo.domains.core.plans import PlanService
from oodaloo.infra.jobs.models import QBOAction
from oodaloo.infra.web.errors import AppError
from oodaloo.runway.deps import SessionDep
from oodaloo.runway.experiences.board import ActionView, ImpactView, Names, action_views, names_of, page_context
from oodaloo.runway.experiences.page_actions import Posted, PostedForm, answered
from oodaloo.runway.experiences.web import PageBusiness, render
from oodaloo.runway.routes.action_deps import acting_member
from oodaloo.runway.routes.plans import Plans

router = APIRouter(include_in_schema=False)

OPEN_STATUSES = (PlanStatus.DRAFT, PlanStatus.PROPOSED, PlanStatus.APPROVED, PlanStatus.EXECUTING)
PREVIEWED_STATUSES = (PlanStatus.DRAFT, PlanStatus.PROPOSED, PlanStatus.APPROVED)
# Finished and cancelled plans shown under the open ones, newest first: the week's receipts, not the archive (the
# history page has every action).
RECENT_CLOSED = 5
# What the plan's section says once it moved.
SAID_AFTER = {
    "propose": "proposed; the owner can approve it now.",
    "approve": "approved; execute it when you are ready.",
    "execute": "executing; each item's result shows as it lands.",
    "cancel": "cancelled; nothing of it will run.",
    "remove": "the item is taken out.",
}
HISTORY_PAGE_SIZE = 50
STATUS_LABELS = {
    PlanStatus.DRAFT: "Draft",
    PlanStatus.PROPOSED: "Proposed, waiting for approval",
    PlanStatus.APPROVED: "Approved, ready to execute",
    PlanStatus.EXECUTING: "Executing",
    PlanStatus.FINISHED: "Finished",
    PlanStatus.CANCELLED: "Cancelled",
}
ITEM_VERBS = {
    "bill.pay": "Pay",
    "bill.delay": "Plan to pay",
    "bill.schedule_payment": "Schedule a payment of",
    "invoice.record_payment": "Record a payment on",
    "invoice.send_reminder": "Send a reminder for",
}
ITEM_STATUS_WORDS = {
    PlanItemStatus.PENDING: "waiting",
    PlanItemStatus.RUNNING: "running",
    PlanItemStatus.CONFIRMING: "being confirmed with QuickBooks",
    PlanItemStatus.SUCCEEDED: "done",
    PlanItemStatus.FAILED: "failed",
    PlanItemStatus.STOPPED: "stopped",
}


# ------------------------------------------------------------------------------------------------------ views
@dataclass(frozen=True)
class ItemView:
    """One item of a plan as a person reads it, with its result once it ran."""

    item: PlanItemOut
    verb: str
    subject: str
    amount: Decimal | None
    account: str | None
    on: date | None

    @property
    def status_words(self) -> str:
        return ITEM_STATUS_WORDS[self.item.status]

    @property
    def receipt(self) -> dict[str, Any]:
        return self.item.receipt or {}


@dataclass(frozen=True)
class PlanView:
    plan: PlanOut
    items: list[ItemView]
    impact: ImpactView | None
    impact_problem: str | None  # why the plan cannot be previewed now (an item the books no longer allow)
    people: dict[str, str | None]  # created_by, proposed_by, approved_by, executed_by → their names

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.plan.status]

    @property
    def running(self) -> bool:
        return self.plan.status is PlanStatus.EXECUTING

    @property
    def done(self) -> int:
        counts = self.plan.counts
        return counts.succeeded + counts.failed + counts.stopped


def item_view(item: PlanItemOut, names: Names) -> ItemView:
    request = item.request
    bill_id, invoice_id = request.get("bill_id"), request.get("invoice_id")
    on = request.get("planned_pay_date") or request.get("payment_date") or request.get("pay_on")
    account = request.get("pay_from_account_id") or request.get("deposit_to_account_id")
    if item.kind == "invoice.record_payment" and not account:
        account = None
    return ItemView(
        item=item,
        verb=ITEM_VERBS.get(item.kind, item.kind),
        subject=names.bill(bill_id) if bill_id else names.invoice(invoice_id),
        amount=Decimal(str(request["amount"])) if request.get("amount") is not None else None,
        account=names.account(account) if account else None,
        on=date.fromisoformat(str(on)) if on else None,
    )


async def plan_view(plans: PlanService, actor: Actor, session: AsyncSession, plan: PlanOut) -> PlanView:
    impact, problem = await _preview(plans, actor, plan)
    people_ids = {
        "created_by": plan.created_by,
        "proposed_by": plan.proposed_by,
        "approved_by": plan.approved_by,
        "executed_by": plan.executed_by,
    }
    names = await names_of(session, actor.business_id, [item.request for item in plan.items], people_ids.values())
    return PlanView(
        plan=plan,
        items=[item_view(item, names) for item in plan.items],
        impact=impact,
        impact_problem=problem,
        people={role: names.user(user_id) for role, user_id in people_ids.items()},
    )


async def _preview(plans: PlanService, actor: Actor, plan: PlanOut) -> tuple[ImpactView | None, str | None]:
    if plan.status not in PREVIEWED_STATUSES or plan.counts.pending == 0:
        return None, None
    try:
        preview = await plans.preview(actor, plan.plan_id)
    except AppError as problem:
        return None, problem.message
    return (ImpactView.of_action(preview.impact) if preview.impact is not None else None), None


# ------------------------------------------------------------------------------------------------------ the plan page
@router.get("/businesses/{business_id}/plan", response_class=HTMLResponse)
async def plan_page(
    request: Request, business_id: uuid.UUID, context: PageBusiness, session: SessionDep, plans: Plans
) -> HTMLResponse:
    """The open plans with their items, combined impact and the buttons the member's role allows; then the latest
    finished ones with a receipt per item."""
    actor = await acting_member(context, session)
    listed = await plans.listed(business_id, None)
    open_ids = [summary.plan_id for summary in listed if summary.status in OPEN_STATUSES]
    closed_ids = [summary.plan_id for summary in listed if summary.status not in OPEN_STATUSES][:RECENT_CLOSED]
    open_plans = [await plan_view(plans, actor, session, await plans.get(business_id, i)) for i in open_ids]
    closed = [await plan_view(plans, actor, session, await plans.get(business_id, i)) for i in closed_ids]
    page = page_context(context, "plan", open_plans=open_plans, closed=closed)
    return render(request, "console/plan.html", page)


@router.get("/businesses/{business_id}/plan/{plan_id}/section", response_class=HTMLResponse)
async def plan_section(
    request: Request,
    business_id: uuid.UUID,
    plan_id: uuid.UUID,
    context: PageBusiness,
    session: SessionDep,
    plans: Plans,
) -> HTMLResponse:
    """One plan's section: what the page polls every second while the plan executes (it stops once finished). The
    poll that finds it finished also says so in the page's result region, in place of "executing"."""
    actor = await acting_member(context, session)
    view = await plan_view(plans, actor, session, await plans.get(business_id, plan_id))
    done = finished_phrase(view.plan) if view.plan.status is PlanStatus.FINISHED else None
    return render(request, "console/plan_section_answer.html", page_context(context, "plan", pv=view, done=done))


def finished_phrase(plan: PlanOut) -> str:
    """``finished: 3 succeeded.``, or with what failed or stopped and where to look."""
    counts = plan.counts
    parts = [f"{counts.succeeded} succeeded"]
    parts += [f"{number} {what}" for number, what in ((counts.failed, "failed"), (counts.stopped, "stopped")) if number]
    tail = "; each item's reason is below." if counts.failed or counts.stopped else "."
    return f"finished: {', '.join(parts)}{tail}"


Move = Callable[[PlanService, Actor], Awaitable[PlanTransitionOut]]


async def _moved(form: PostedForm, move: Move) -> tuple[Actor, PlanTransitionOut]:
    actor = await acting_member(form.context, form.session)
    return actor, await move(form.plans, actor)


async def _move(form: PostedForm, plan_id: uuid.UUID, move: Move, done: str) -> Response:
    """Propose, approve, execute or cancel: htmx gets the plan's section as it is now, with ``done`` said in the
    page's result region; a full-page form goes back to the plan page."""

    async def section(moved: tuple[Actor, PlanTransitionOut]) -> Response:
        actor, transition = moved
        view = await plan_view(form.plans, actor, form.session, transition.plan)
        page = page_context(form.context, "plan", pv=view, done=done if transition.changed else None)
        return render(form.request, "console/plan_section_answer.html", page)

    back = form.url("plan", f"#plan-{plan_id}")
    return await answered(form, f"#plan-{plan_id}-message", _moved(form, move), lambda _: back, section)


@router.post("/businesses/{business_id}/plan/{plan_id}/propose", response_class=HTMLResponse)
async def propose(plan_id: uuid.UUID, form: Posted) -> Response:
    """Put the draft to the owner (advisors and owners); its items are fixed from then on."""
    form.check(Capability.PROPOSE)
    return await _move(form, plan_id, lambda plans, actor: plans.propose(actor, plan_id), SAID_AFTER["propose"])


@router.post("/businesses/{business_id}/plan/{plan_id}/approve", response_class=HTMLResponse)
async def approve(plan_id: uuid.UUID, form: Posted, revision: Annotated[int | None, Form()] = None) -> Response:
    """Approve the plan as the approver saw it (``revision``): a plan changed since is refused, to be looked at
    again. Every item is checked on QuickBooks' current books first."""
    form.check(Capability.ACT)
    seen = ApproveIn(revision=revision)
    return await _move(form, plan_id, lambda plans, actor: plans.approve(actor, plan_id, seen), SAID_AFTER["approve"])


@router.post("/businesses/{business_id}/plan/{plan_id}/execute", response_class=HTMLResponse)
async def execute(plan_id: uuid.UUID, form: Posted) -> Response:
    """Execute the approved plan in the background; the section follows it until every item has its result."""
    form.check(Capability.ACT)
    return await _move(form, plan_id, lambda plans, actor: plans.execute(actor, plan_id), SAID_AFTER["execute"])


@router.post("/businesses/{business_id}/plan/{plan_id}/cancel", response_class=HTMLResponse)
async def cancel(plan_id: uuid.UUID, form: Posted) -> Response:
    """Give the plan up before it executes."""
    form.check(Capability.PROPOSE)
    return await _move(form, plan_id, lambda plans, actor: plans.cancel(actor, plan_id), SAID_AFTER["cancel"])


@router.post("/businesses/{business_id}/plan/{plan_id}/items/{item_id}/remove", response_class=HTMLResponse)
async def remove_item(plan_id: uuid.UUID, item_id: uuid.UUID, form: Posted) -> Response:
    """Take an item out of a draft."""
    form.check(Capability.PROPOSE)

    async def remove(plans: PlanService, actor: Actor) -> PlanTransitionOut:
        return PlanTransitionOut(plan=await plans.remove_item(actor, plan_id, item_id), changed=True)

    return await _move(form, plan_id, remove, SAID_AFTER["remove"])


# ---------------------------------------------------------------------------------------------------- history
@dataclass(frozen=True)
class AuditView:
    at: Any
    who: str | None
    what: str
    subject_type: str
    subject_id: str | None
    detail: str


def audit_words(action: str) -> str:
    """``plan.approved`` → "Plan approved"; ``member.role_changed`` → "Member role changed"."""
    subject, _, verb = action.partition(".")
    return f"{subject.replace('_', ' ').capitalize()} {verb.replace('.', ' ').replace('_', ' ')}".strip()


def detail_words(detail: dict[str, Any]) -> str:
    """Small JSON as one line a person reads: ``items: 6; kinds: bill.pay 2, invoice.send_reminder 1``."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, dict):
            value = ", ".join(f"{inner} {count}" for inner, count in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(entry) for entry in value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


async def _actions_page(
    session: AsyncSession, business_id: uuid.UUID, cursor: str | None
) -> tuple[list[ActionView], str | None]:
    listed = await ActionLogReader(session, business_id).page(ActionFilter(), limit=HISTORY_PAGE_SIZE, cursor=cursor)
    ids = [action.action_id for action in listed.actions]
    repository = ActionLogRepository(session, business_id)
    rows: Sequence[QBOAction] = await repository.all(repository.select().where(QBOAction.id.in_(ids))) if ids else []
    by_id = {row.id: row for row in rows}
    return await action_views(session, business_id, [by_id[i] for i in ids if i in by_id]), listed.next_cursor


@router.get("/businesses/{business_id}/history", response_class=HTMLResponse)
async def history_page(
    request: Request,
    business_id: uuid.UUID,
    context: PageBusiness,
    session: SessionDep,
    actions_cursor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    audit_cursor: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> HTMLResponse:
    """Who did what and when: every action sent to QuickBooks (newest first, with its receipt and runway impact),
    and the plans' proposals, approvals and executions and the other changes of the audit log."""
    actions, next_actions = await _actions_page(session, business_id, actions_cursor)
    audit = await AuditLog(session).page(business_id, limit=HISTORY_PAGE_SIZE, cursor=audit_cursor)
    events = [
        AuditView(
            at=event.at,
            who=None if actor is None else actor.display_name or actor.email,
            what=audit_words(event.action),
            subject_type=event.subject_type,
            subject_id=event.subject_id,
            detail=detail_words(event.detail or {}),
        )
        for event, actor in audit.events
    ]
    open_alerts = len(await AlertService(session, business_id).listed("open"))
    page = page_context(
        context,
        "history",
        actions=actions,
        next_actions=next_actions,
        events=events,
        next_audit=audit.next_cursor,
        open_alerts=open_alerts,
    )
    return render(request, "console/history.html", page)


# ----------------------------------------------------------------------------------------------------- alerts
ALERT_KIND_LABELS = {
    "bill_paid_elsewhere": "Bill paid outside the plan",
    "payment_voided": "Payment voided",
    "large_bill": "Large new bill",
    "invoice_paid": "Invoice paid",
    "runway_drop": "Runway dropped",
}
ALERT_STATUSES: tuple[AlertStatusFilter, ...] = ("open", "acknowledged", "resolved", "all")


@dataclass(frozen=True)
class AlertView:
    alert: AlertOut
    label: str
    link: str
    link_text: str
    acknowledged_by: str | None


def alert_link(business_id: uuid.UUID, subject_type: str, subject_id: str) -> tuple[str, str]:
    """Where in the console the alert's fix is (the API path it carries is for API clients)."""
    base = f"/businesses/{business_id}"
    if subject_type == "bill":
        return f"{base}/bills/{subject_id}", "Open the bill"
    if subject_type == "bill_payment":
        return f"{base}/bills", "Open the Bills board"
    if subject_type in ("invoice", "payment"):
        return f"{base}/chase", "Open the chase list"
    return base, "See the runway"


async def alert_views(session: AsyncSession, business_id: uuid.UUID, alerts: list[AlertOut]) -> list[AlertView]:
    names = await names_of(session, business_id, [], [alert.acknowledged_by for alert in alerts])
    views = []
    for alert in alerts:
        link, text = alert_link(business_id, alert.subject.type, alert.subject.id)
        label = ALERT_KIND_LABELS.get(alert.kind.value, alert.kind.value)
        views.append(AlertView(alert, label, link, text, names.user(alert.acknowledged_by)))
    return views


@router.get("/businesses/{business_id}/alerts", response_class=HTMLResponse)
async def alerts_page(
    request: Request,
    business_id: uuid.UUID,
    context: PageBusiness,
    session: SessionDep,
    status: AlertStatusFilter = "open",
) -> HTMLResponse:
    """Drift alerts, open ones by default: what changed in QuickBooks against the plan or the mirror, and what to
    do about it."""
    alerts = await AlertService(session, business_id).listed(status)
    views = await alert_views(session, business_id, alerts)
    page = page_context(context, "history", alerts=views, status=status, statuses=ALERT_STATUSES)
    return render(request, "console/alerts.html", page)


@router.post("/businesses/{business_id}/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge_alert(alert_id: uuid.UUID, form: Posted) -> Response:
    """Mark the alert seen (it leaves the open list; recorded in the audit log)."""
    form.check(Capability.PROPOSE)
    business_id = form.business_id

    async def alert_row(alert: AlertOut) -> Response:
        (view,) = await alert_views(form.session, business_id, [alert])
        return render(form.request, "console/alerts_alert.html", page_context(form.context, "history", view=view))

    acknowledging = AlertService(form.session, business_id).acknowledge(alert_id, form.context.user.id)
    alerts = form.url("alerts")
    return await answered(form, f"#alert-{alert_id}-message", acknowledging, lambda _: alerts, alert_row)
