"""``POST /webhooks/qbo``: QBO's change notifications, answered as soon as they are stored (Intuit waits ~3 s)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel

from oodaloo.domains.qbo.webhooks import InvalidWebhookPayload, InvalidWebhookSignature, SyncRequester, WebhookService
from oodaloo.infra.db.engine import Database
from oodaloo.infra.web.errors import error_body
from oodaloo.settings import Settings

router = APIRouter(tags=["webhooks"])


class WebhookReceiptOut(BaseModel):
    events: int
    stored: int
    ignored: int


def get_webhook_service(request: Request) -> WebhookService:
    # Built per request from app.state, so the sync requester can be swapped while the app runs (tests, the lead).
    settings: Settings = request.app.state.settings
    database: Database = request.app.state.database
    requester: SyncRequester = request.app.state.sync_requester
    return WebhookService(
        database.sessionmaker, requester, verifier_token=settings.qbo_webhook_verifier_token.get_secret_value()
    )


WebhookServiceDep = Annotated[WebhookService, Depends(get_webhook_service)]


def _error(error: type[InvalidWebhookSignature | InvalidWebhookPayload]) -> dict[str, object]:
    return {"description": error.message, "content": {"application/json": {"example": error_body(error.code, "…")}}}


@router.post(
    "/webhooks/qbo",
    responses={401: _error(InvalidWebhookSignature), 400: _error(InvalidWebhookPayload)},
)
async def receive_qbo_webhook(
    request: Request,
    webhooks: WebhookServiceDep,
    intuit_signature: Annotated[str | None, Header(description="base64 HMAC-SHA256 of the body")] = None,
) -> WebhookReceiptOut:
    """Store each event of the delivery once and request a CDC sync for the realms with news."""
    receipt = await webhooks.receive(await request.body(), intuit_signature)
    return WebhookReceiptOut(events=receipt.events, stored=receipt.stored, ignored=receipt.ignored)
