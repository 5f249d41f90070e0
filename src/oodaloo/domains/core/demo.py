"""The embedded default's demo account: a demo user owning a demo business linked to the sandbox realm."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from oodaloo.domains.core.models import User
from oodaloo.domains.core.repository import UserRepository
from oodaloo.domains.core.schemas import BusinessIn
from oodaloo.domains.core.service import BusinessService
from oodaloo.infra.auth import passwords

DEMO_EMAIL = "demo@oodaloo.local"
DEMO_DISPLAY_NAME = "Demo User"
DEMO_TIMEZONE = "America/Los_Angeles"
DEMO_CURRENCY = "USD"


DEMO_NAME_PREFIX = "Demo Company — "


def demo_business_name(scenario: str) -> str:
    """The name until the first connection gives it the QuickBooks company's."""
    return f"{DEMO_NAME_PREFIX}{scenario}"


async def ensure_demo(session: AsyncSession, *, scenario: str, realm_id: str) -> User:
    """Idempotent: creates what is missing and renames the demo business when the scenario changed."""
    users = UserRepository(session)
    user = await users.by_email(DEMO_EMAIL)
    if user is None:
        # No usable password: the demo user enters only from this machine, by autologin or the sign-in page's
        # "Continue as the demo user" (runway/routes/pages.py).
        unusable = passwords.hash_password(secrets.token_urlsafe(32))
        user = await users.add(User(email=DEMO_EMAIL, password_hash=unusable, display_name=DEMO_DISPLAY_NAME))
    businesses = BusinessService(session)
    linked = [entry.business for entry in await businesses.list_for(user) if entry.business.qbo_realm_id == realm_id]
    if linked:
        # Once connected it carries its QuickBooks company's name (or one a person gave it): keep that.
        if linked[0].name.startswith(DEMO_NAME_PREFIX):
            linked[0].name = demo_business_name(scenario)
            await session.flush()
    else:
        demo = BusinessIn(name=demo_business_name(scenario), timezone=DEMO_TIMEZONE, currency=DEMO_CURRENCY)
        await businesses.create(user, demo, qbo_realm_id=realm_id)
    return user
