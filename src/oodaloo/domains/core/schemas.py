"""Request and response bodies of the core domain's API."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from oodaloo.domains.core.currencies import is_currency_code
from oodaloo.domains.core.models import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH, FirmRole, Role

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
    may_act: bool = Field(description="Whether the caller may act (pay, approve, execute), not only propose.")
    firm_id: uuid.UUID | None = Field(
        default=None, description="The firm the caller's access comes through, when it does (an engaged advisor)."
    )


MAY_ACT_DESCRIPTION = "An advisor's permission to act (pay, approve, execute), set by an owner; advisors only."


class MemberIn(StrictBody):
    email: Email
    role: Role
    may_act: bool = Field(default=False, description=MAY_ACT_DESCRIPTION)


class MemberPatch(StrictBody):
    role: Role | None = None
    may_act: bool | None = Field(default=None, description=MAY_ACT_DESCRIPTION)

    @model_validator(mode="after")
    def _something_to_change(self) -> MemberPatch:
        if self.role is None and self.may_act is None:
            raise ValueError("send a role, may_act, or both")
        return self


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role
    may_act: bool = Field(description="Whether this member may act: owners always, advisors when allowed.")
    joined_at: datetime


# -- advisor firms ---------------------------------------------------------------------------------------------------


class FirmIn(StrictBody):
    name: Name


class FirmOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    role: FirmRole = Field(description="The caller's role in this firm.")


class FirmMemberIn(StrictBody):
    email: Email
    role: FirmRole = FirmRole.ADVISOR


class FirmMemberPatch(StrictBody):
    role: FirmRole


class FirmMemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: FirmRole
    joined_at: datetime


class FirmClientOut(BaseModel):
    business_id: uuid.UUID
    name: str
    timezone: str
    currency: str
    role: Role = Field(description="The caller's role in this business (advisor through the firm, unless higher).")
    may_act: bool = Field(description="Whether the caller may act in this business.")
    engaged_at: datetime


class EngagementIn(StrictBody):
    firm_id: uuid.UUID
    advisors_may_act: bool = Field(default=False, description="Whether the firm's advisors may act, not only propose.")


class EngagementPatch(StrictBody):
    advisors_may_act: bool


class EngagementOut(BaseModel):
    firm_id: uuid.UUID
    firm_name: str
    advisors_may_act: bool
    engaged_at: datetime


# -- audit log -------------------------------------------------------------------------------------------------------


class AuditActorOut(BaseModel):
    user_id: uuid.UUID
    display_name: str
    email: str


class AuditEventOut(BaseModel):
    id: uuid.UUID
    at: datetime
    action: str = Field(description='What happened, as "<subject>.<verb>": "plan.approved", "firm.engaged".')
    actor: AuditActorOut | None = Field(description="Who did it; null when the system did (or the account is gone).")
    subject_type: str
    subject_id: str | None
    detail: dict[str, Any]


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next (older) page; null on the last.")


# -- cash ------------------------------------------------------------------------------------------------------------


class BankBalanceOut(BaseModel):
    account_id: str = Field(description="QuickBooks' id of the account.")
    name: str
    balance: Decimal = Field(description="Cash in the account at the end of ``as_of`` (a decimal string).")
    active: bool
    currency: str | None


class CardBalanceOut(BaseModel):
    account_id: str
    name: str
    balance: Decimal = Field(description="What is owed on the card now, as QuickBooks shows it.")
    active: bool
    currency: str | None


class BalancesOut(BaseModel):
    """Money as decimal strings, in each account's currency."""

    as_of: date = Field(description="The business's today, in its time zone.")
    currency: str
    last_synced_at: datetime | None = Field(
        description="When the mirror of QuickBooks these figures come from was last brought up to date; null before "
        "its first sync (the lists are then empty)."
    )
    total_cash: Decimal = Field(description="Cash in all bank accounts together.")
    bank_accounts: list[BankBalanceOut]
    credit_cards: list[CardBalanceOut]
    total_card_balance: Decimal = Field(description="What is owed on all credit cards together.")
