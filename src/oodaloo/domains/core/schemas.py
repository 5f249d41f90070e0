"""Request and response bodies of the core domain's API."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from oodaloo.domains.core.currencies import is_currency_code
from oodaloo.domains.core.models import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH, Role

_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(value: str) -> str:
    """One spelling per address: surrounding spaces dropped, lower case (uniqueness is case-insensitive)."""
    email = value.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL_SHAPE.match(email):
        raise ValueError("enter an email address like name@example.com")
    return email


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone name (e.g. America/New_York)") from None
    return value


def check_currency(value: str) -> str:
    code = value.strip().upper()
    if not is_currency_code(code):
        raise ValueError(f"'{value}' is not an ISO 4217 currency code (e.g. USD)")
    return code


Email = Annotated[str, AfterValidator(normalize_email)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH)]
TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
CurrencyCode = Annotated[str, AfterValidator(check_currency)]
Password = Annotated[str, Field(max_length=1024)]


class StrictBody(BaseModel):
    # Unknown fields are refused so a typo ("time_zone") is an error, not a silently ignored value.
    model_config = ConfigDict(extra="forbid")


class SignUpIn(StrictBody):
    email: Email
    password: Password
    display_name: Name | None = None


class SignInIn(StrictBody):
    email: Email
    password: Password


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime


class ApiTokenIn(StrictBody):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ApiTokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreatedOut(ApiTokenOut):
    token: str = Field(description="The secret itself. Shown only in this response; store it now.")


class BusinessIn(StrictBody):
    name: Name
    timezone: TimeZoneName
    currency: CurrencyCode = "USD"


class BusinessPatch(StrictBody):
    name: Name | None = None
    timezone: TimeZoneName | None = None
    currency: CurrencyCode | None = None


class BusinessOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    timezone: str
    currency: str
    qbo_realm_id: str | None
    created_at: datetime
    role: Role = Field(description="The caller's role in this business.")


class MemberIn(StrictBody):
    email: Email
    role: Role


class MemberPatch(StrictBody):
    role: Role


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    joined_at: datetime
