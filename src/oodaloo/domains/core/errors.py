"""Failures of the core domain, each with a stable code clients can branch on."""

from __future__ import annotations

import math

from oodaloo.infra.web.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, TooManyRequests


class EmailTaken(Conflict):
    code = "email_taken"
    message = "An account with this email already exists."

    def __init__(self) -> None:
        super().__init__(field="email")


class WeakPassword(InvalidInput):
    code = "weak_password"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="password")


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    message = "Email or password is incorrect."


class SignInThrottled(TooManyRequests):
    """Too many failed sign-ins for this account or from this address. The message is the same for both, and for
    unknown emails, so it reveals nothing about which accounts exist."""

    code = "too_many_sign_in_attempts"

    def __init__(self, retry_after_seconds: float) -> None:
        wait = max(1, math.ceil(retry_after_seconds))
        message = f"Too many failed sign-in attempts; try again in {wait} seconds."
        super().__init__(message, retry_after_seconds=retry_after_seconds)


class BusinessNotFound(NotFound):
    code = "business_not_found"
    message = "No such business."


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "No such member in this business."


class TokenNotFound(NotFound):
    code = "token_not_found"
    message = "No such API token."


class UnknownUser(InvalidInput):
    code = "unknown_user"
    message = "No account uses this email; ask them to sign up first."

    def __init__(self) -> None:
        super().__init__(field="email")


class AlreadyMember(Conflict):
    code = "already_member"
    message = "This user is already a member of the business."

    def __init__(self) -> None:
        super().__init__(field="email")


class LastOwner(Conflict):
    code = "last_owner"
    message = "A business must keep at least one owner; make another member owner first."


class ActPermissionForAdvisorsOnly(InvalidInput):
    code = "may_act_for_advisors_only"
    message = "Only an advisor's permission to act can be set: owners always act, viewers never do."

    def __init__(self) -> None:
        super().__init__(field="may_act")


class FirmNotFound(NotFound):
    code = "firm_not_found"
    message = "No such firm."


class UnknownFirm(InvalidInput):
    code = "unknown_firm"
    message = "No firm has this id; ask the firm for the id its admins see."

    def __init__(self) -> None:
        super().__init__(field="firm_id")


class FirmMemberNotFound(NotFound):
    code = "firm_member_not_found"
    message = "No such member in this firm."


class AlreadyFirmMember(Conflict):
    code = "already_firm_member"
    message = "This user is already a member of the firm."

    def __init__(self) -> None:
        super().__init__(field="email")


class LastFirmAdmin(Conflict):
    code = "last_firm_admin"
    message = "A firm must keep at least one admin; make another member admin first."


class AlreadyEngaged(Conflict):
    code = "already_engaged"
    message = "This business already engages this firm."

    def __init__(self) -> None:
        super().__init__(field="firm_id")


class EngagementNotFound(NotFound):
    code = "engagement_not_found"
    message = "This business does not engage this firm."
