"""What SmartSync sends: one QBO request (``QBOCall``, built by the QBO client) and the credentials it is sent with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class QBOCall:
    realm_id: str
    method: str  # "GET" | "POST"
    path: str  # relative to the API base URL, e.g. "/v3/company/123/billpayment"
    params: Mapping[str, str] = field(default_factory=dict)  # the client adds minorversion; writes carry "requestid"
    body: bytes | None = None
    content_type: str | None = None
    accept: str = "application/json"
    is_write: bool = False
    label: str = ""  # e.g. "query", "billpayment.create" — logs and metrics
    cost: int = 1  # units charged in the limiter's request windows
    is_batch: bool = False  # a batch is one request to QBO's windows, and one to its batches-per-minute budget


class Credentials(Protocol):
    async def access_token(self) -> str:
        """A valid access token, refreshed ahead of expiry."""
        ...

    async def refresh_after_unauthorized(self, rejected: str) -> str:
        """QBO refused ``rejected``: refresh (single-flight) and return the new token; raises ReconnectRequired."""
        ...
