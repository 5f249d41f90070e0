"""The prep tray on a page and over the API: ``GET /businesses/{business_id}/tray`` (the whole page, or the fragment the
overview loads with htmx) and ``GET /api/businesses/{business_id}/tray`` (JSON), both read by any member."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from oodaloo.runway.deps import BusinessAccess, SessionDep
from oodaloo.runway.experiences.tray import (
    Confidence,
    HygieneComponent,
    ItemKind,
    LeftOut,
    PrepTray,
    TrayItem,
    build_tray,
    quickbooks_app_for,
)
from oodaloo.runway.experiences.web import PageBusiness, render
from oodaloo.runway.routes.bills import MIRROR_NOT_SYNCED
from oodaloo.settings import Settings

router = APIRouter(include_in_schema=False)

GROUP_TITLES: dict[ItemKind, str] = {
    "overdue_invoice": "Overdue invoices",
    "bill_due": "Bills due within 7 days",
    "must_pay_at_risk": "Must Pay bills at risk",
    "drift_alert": "Alerts",
    "hygiene": "Bookkeeping",
}


# ------------------------------------------------------------------------------------------------------- the JSON
class TrayActionOut(BaseModel):
    label: str
    href: str = Field(description="A console page, or (external) the record in the QuickBooks web app.")
    external: bool


class TrayItemOut(BaseModel):
    kind: ItemKind
    key: str = Field(description='Stable within the business: "invoice:130", "bill:146", "alert:<id>", ...')
    title: str
    why: str
    amount: Decimal | None
    action: TrayActionOut = Field(description="The one action that clears the item.")
    weight: Decimal = Field(description="How much it matters within its kind (overdue invoices: the chase score).")


class LeftOutOut(BaseModel):
    kind: ItemKind
    count: int
    label: str
    href: str


class HygieneComponentOut(BaseModel):
    key: str
    name: str
    count: int
    amount: Decimal | None
    points_lost: int
    max_points: int
    explanation: str


class HygieneOut(BaseModel):
    score: int = Field(ge=0, le=100, description="100 less the points each component lost.")
    components: list[HygieneComponentOut]


class TrayOut(BaseModel):
    business_id: uuid.UUID
    as_of: date = Field(description="The business's date (its time zone).")
    currency: str
    confidence: Confidence = Field(description="How far the forecast can be trusted, given the books' hygiene.")
    confidence_reason: str
    hygiene: HygieneOut
    items: list[TrayItemOut] = Field(description="In the order to deal with them.")
    left_out: list[LeftOutOut] = Field(description="Items of a kind beyond what the tray shows, and where they are.")


def tray_out(tray: PrepTray) -> TrayOut:
    return TrayOut(
        business_id=tray.business_id,
        as_of=tray.as_of,
        currency=tray.currency,
        confidence=tray.confidence,
        confidence_reason=tray.confidence_reason,
        hygiene=HygieneOut(
            score=tray.hygiene.score, components=[_component_out(part) for part in tray.hygiene.components]
        ),
        items=[_item_out(item) for item in tray.items],
        left_out=[_left_out(left) for left in tray.left_out],
    )


def _component_out(part: HygieneComponent) -> HygieneComponentOut:
    return HygieneComponentOut(
        key=part.key,
        name=part.name,
        count=part.count,
        amount=part.amount,
        points_lost=part.points_lost,
        max_points=part.max_points,
        explanation=part.explanation,
    )


def _item_out(item: TrayItem) -> TrayItemOut:
    action = TrayActionOut(label=item.action.label, href=item.action.href, external=item.action.external)
    return TrayItemOut(
        kind=item.kind,
        key=item.key,
        title=item.title,
        why=item.why,
        amount=item.amount,
        action=action,
        weight=item.weight,
    )


def _left_out(left: LeftOut) -> LeftOutOut:
    return LeftOutOut(kind=left.kind, count=left.count, label=left.label, href=left.href)


def _quickbooks_app(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return quickbooks_app_for(settings.qbo_api_base_url)


@router.get("/api/businesses/{business_id}/tray", include_in_schema=True, tags=["tray"], responses=MIRROR_NOT_SYNCED)
async def get_tray(business_id: uuid.UUID, request: Request, access: BusinessAccess, session: SessionDep) -> TrayOut:
    """What needs attention now, in order — overdue invoices, bills due within 7 days, Must Pay bills the forecast
    does not cover, open alerts, bookkeeping problems — each with why and the one action that clears it; the
    hygiene score (0-100) with its components, and the confidence it leaves the forecast."""
    business = access.business
    tray = await build_tray(session, business, business.today(), quickbooks_app=_quickbooks_app(request))
    return tray_out(tray)


# ------------------------------------------------------------------------------------------------------- the page
@router.get("/businesses/{business_id}/tray", response_class=HTMLResponse)
async def tray_page(
    business_id: uuid.UUID, request: Request, context: PageBusiness, session: SessionDep
) -> HTMLResponse:
    """The whole page; asked by htmx (the overview's "Needs attention"), only the tray itself."""
    business = context.business
    tray = await build_tray(session, business, business.today(), quickbooks_app=_quickbooks_app(request))
    fragment = request.headers.get("hx-request") == "true"
    page = {
        "business": business,
        "grant": context.grant,
        "user": context.user,
        "active": "overview",
        "tray": tray,
        "groups": _groups(tray),
        "titles": GROUP_TITLES,
        "heading": 3 if fragment else 2,
    }
    return render(request, "console/tray_panel.html" if fragment else "console/tray.html", page)


def _groups(tray: PrepTray) -> list[tuple[ItemKind, list[TrayItem], list[LeftOut]]]:
    """The tray's kinds in order, each with its items and what was left out of it; empty kinds are skipped."""
    return [
        (kind, tray.of_kind(kind), [left for left in tray.left_out if left.kind == kind])
        for kind in GROUP_TITLES
        if tray.of_kind(kind)
    ]
