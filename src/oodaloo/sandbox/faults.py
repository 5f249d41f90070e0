"""QBO-shaped error bodies: the data-service ``Fault`` envelope and the gateway's lower-case one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultError:
    """One entry of ``Fault.Error[]``."""

    code: str
    message: str
    detail: str = ""
    element: str = ""

    def as_json(self) -> dict[str, str]:
        return {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}


@dataclass
class QBOFault(Exception):
    """Raised anywhere in the sandbox to answer with a QBO ``Fault`` body.

    ``status`` is the HTTP status; ``fault_type`` is ``ValidationFault``, ``SystemFault`` and so on.
    """

    status: int
    fault_type: str
    errors: list[FaultError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.code} {e.message}: {e.detail}" for e in self.errors)

    def fault_json(self) -> dict[str, Any]:
        """The ``Fault`` object alone, as batch items carry it."""
        return {"Error": [e.as_json() for e in self.errors], "type": self.fault_type}


def validation(code: int | str, message: str, detail: str = "", element: str = "") -> QBOFault:
    return QBOFault(400, "ValidationFault", [FaultError(str(code), message, detail, element)])


def not_found(entity: str, entity_id: str) -> QBOFault:
    return validation(
        610,
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. ({entity} {entity_id})",
    )


def required(param: str, element: str = "") -> QBOFault:
    return validation(
        2020,
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {param} is missing in the request",
        element or param,
    )


def business(detail: str, element: str = "", code: int = 6000) -> QBOFault:
    return validation(
        code,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element,
    )


def stale_object() -> QBOFault:
    return validation(
        5010,
        "Stale Object Error",
        "Stale Object Error : You and another user were working on this at the same time. "
        "The other user finished before you did, so your work was not saved.",
    )


def unsupported(detail: str) -> QBOFault:
    return validation(500, "Unsupported Operation", f"Operation {detail} is not supported.")


def query_parse_error(detail: str) -> QBOFault:
    return validation(4000, "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QBOFault:
    return validation(4001, "Invalid query", f"QueryValidationError: {detail}")


def system_error() -> QBOFault:
    return QBOFault(
        500,
        "SystemFault",
        [
            FaultError(
                "10000",
                "An application error has occurred while processing your request",
                "System Failure Error: An unexpected error occurred while accessing or saving your data."
                " Please wait a few minutes and try again.",
            )
        ],
    )


def gateway_body(status: int, code: str, message: str, detail: str | None, fault_type: str) -> dict[str, Any]:
    """The API gateway's lower-case envelope used for 401/403/429 (``time`` in epoch millis)."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [{"message": message, "detail": detail, "code": code, "element": None}],
            "type": fault_type,
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(time.time() * 1000),
        "status": None,
        "cdcresponse": [],
    }


def auth_failed_body(detail: str | None) -> dict[str, Any]:
    """401: missing, malformed, expired or revoked bearer token (code 3200)."""
    return gateway_body(
        401, "3200", "message=AuthenticationFailed; errorCode=003200; statusCode=401", detail, "AUTHENTICATION"
    )


def app_not_authorized_body() -> dict[str, Any]:
    """403: the token is valid but not for this realm (code 3100)."""
    return gateway_body(
        403, "3100", "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", None, "SERVICE"
    )


def throttled_body() -> dict[str, Any]:
    """429: a QBO limit was exceeded (code 3001)."""
    return {
        "Fault": {
            "Error": [
                {
                    "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                    "Detail": "The request limit was reached.  Try again later",
                    "code": "3001",
                    "element": "",
                }
            ],
            "type": "SERVICE",
        },
    }
