"""Failures of the receivables domain, each with a stable code clients can branch on."""

from __future__ import annotations

from oodaloo.infra.web.errors import NotFound


class CustomerNotFound(NotFound):
    code = "customer_not_found"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"This business's QuickBooks data has no customer {customer_id}.", field="customer_id")
