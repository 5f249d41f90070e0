"""Connecting a business to QuickBooks: start the OAuth dance, its callback, disconnect, and the connection status."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from oodaloo.domains.qbo.auth import (
    ConnectDeclined,
    ConnectionService,
    ConnectionState,
    InvalidConnectState,
    StatusName,
)
from oodaloo.infra.web.errors import NotAuthenticated
from oodaloo.runway.deps import SESSION_COOKIE, BusinessAccess, BusinessActor, BusinessOwner, OptionalCaller

DEFAULT_CALLBACK_PATH = "/qbo/callback"


class QBOConnectionOut(BaseModel):
    status: StatusName
    realm_id: str | None
    message: str | None
    scopes: list[str]
    connected_at: datetime | None
    last_refreshed_at: datetime | None
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None


class AuthorizeUrlOut(BaseModel):
    authorize_url: str


def get_connections(request: Request) -> ConnectionService:
    connections: ConnectionService = request.app.state.qbo_connections
    return connections


ConnectionsDep = Annotated[ConnectionService, Depends(get_connections)]


def _out(state: ConnectionState) -> QBOConnectionOut:
    return QBOConnectionOut(
        status=state.status,
        realm_id=state.realm_id,
        message=state.message,
        scopes=list(state.scopes),
        connected_at=state.connected_at,
        last_refreshed_at=state.last_refreshed_at,
        access_token_expires_at=state.access_token_expires_at,
        refresh_token_expires_at=state.refresh_token_expires_at,
    )


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def callback_path(redirect_uri: str) -> str:
    """The path part of the registered redirect URI: QBO sends the browser back there."""
    return urlsplit(redirect_uri).path or DEFAULT_CALLBACK_PATH


def create_router(redirect_uri: str) -> APIRouter:
    """The QBO connection routes; the callback lives at the path of ``redirect_uri`` (``OODALOO_QBO_REDIRECT_URI``)."""
    router = APIRouter(tags=["qbo"])

    @router.get(
        "/api/businesses/{business_id}/qbo/connect",
        responses={200: {"model": AuthorizeUrlOut}, 302: {"description": "Redirect to QuickBooks"}},
    )
    async def connect(
        business_id: uuid.UUID,
        request: Request,
        access: BusinessActor,
        caller: OptionalCaller,
        connections: ConnectionsDep,
    ) -> Response:
        """Send the browser to QuickBooks to consent (302), or, with ``Accept: application/json``, return the URL."""
        session_token = request.cookies.get(SESSION_COOKIE)
        # The callback arrives from the browser, so the flow is bound to a browser sign-in, not to an API token.
        if caller is None or caller.method != "session" or not session_token:
            raise NotAuthenticated("Connecting QuickBooks needs a browser sign-in; API tokens cannot start it.")
        url = await connections.start(access.business.id, access.user.id, session_token)
        if _wants_json(request):
            return JSONResponse(AuthorizeUrlOut(authorize_url=url).model_dump())
        return RedirectResponse(url, status_code=302)

    @router.get(callback_path(redirect_uri), include_in_schema=False)
    async def callback(
        request: Request,
        connections: ConnectionsDep,
        state: str = "",
        code: str = "",
        realm_id: Annotated[str | None, Query(alias="realmId")] = None,
        error: str | None = None,
    ) -> Response:
        """Where QuickBooks sends the browser back: store the connection, then show the first sync's progress (or
        answer JSON)."""
        if error:
            raise ConnectDeclined(error[:100])
        session_token = request.cookies.get(SESSION_COOKIE)
        if not session_token:
            raise InvalidConnectState("Sign in, then start connecting QuickBooks again.")
        if not state or not code:
            raise InvalidConnectState()
        connected = await connections.complete(state, code, realm_id, session_token)
        if _wants_json(request):
            return JSONResponse(_out(connected).model_dump(mode="json"))
        return RedirectResponse(f"/businesses/{connected.business_id}/first-sync", status_code=303)

    @router.post("/api/businesses/{business_id}/qbo/disconnect")
    async def disconnect(
        business_id: uuid.UUID, access: BusinessOwner, connections: ConnectionsDep
    ) -> QBOConnectionOut:
        """Revoke the connection at QuickBooks and erase its tokens (owners only)."""
        return _out(await connections.disconnect(access.business.id, access.user.id))

    @router.get("/api/businesses/{business_id}/qbo/connection")
    async def connection(
        business_id: uuid.UUID, access: BusinessAccess, connections: ConnectionsDep
    ) -> QBOConnectionOut:
        """Status, company (realm) and, when QuickBooks needs reconnecting, why."""
        return _out(await connections.status(access.business.id))

    return router
