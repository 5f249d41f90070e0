"""Every table registered on one metadata: what migrations are compared against."""

from __future__ import annotations

from oodaloo.domains.ap import decisions as ap_decisions
from oodaloo.domains.ap import recurring as ap_recurring
from oodaloo.domains.core import audit as core_audit
from oodaloo.domains.core import models as core_models
from oodaloo.domains.core import reserves as core_reserves
from oodaloo.domains.qbo import mirror_models as qbo_mirror_models
from oodaloo.domains.qbo import models as qbo_models
from oodaloo.domains.qbo import webhooks_models as qbo_webhooks_models
from oodaloo.infra.db.base import Base
from oodaloo.infra.jobs import models as smart_sync_models

__all__ = [
    "ap_decisions",
    "ap_recurring",
    "core_audit",
    "core_models",
    "core_reserves",
    "metadata",
    "qbo_mirror_models",
    "qbo_models",
    "qbo_webhooks_models",
    "smart_sync_models",
]

metadata = Base.metadata
