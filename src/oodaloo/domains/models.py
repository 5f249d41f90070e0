"""Every table registered on one metadata: what migrations are compared against."""

from __future__ import annotations

from oodaloo.domains.ap import decisions as ap_decisions
from oodaloo.domains.ap import recurring as ap_recurring
from oodaloo.domains.ap import scheduled_models as ap_scheduled_models
from oodaloo.domains.ar import reminder_models as ar_reminder_models
from oodaloo.domains.core import alerts as core_alerts
from oodaloo.domains.core import audit as core_audit
from oodaloo.domains.core import digest_models as core_digest_models
from oodaloo.domains.core import drift as core_drift
from oodaloo.domains.core import impact as core_impact
from oodaloo.domains.core import models as core_models
from oodaloo.domains.core import plan_models as core_plan_models
from oodaloo.domains.core import reserves as core_reserves
from oodaloo.domains.core import snapshots as core_snapshots
from oodaloo.domains.core import trial_models as core_trial_models
from oodaloo.domains.qbo import mirror_models as qbo_mirror_models
from oodaloo.domains.qbo import models as qbo_models
from oodaloo.domains.qbo import webhooks_models as qbo_webhooks_models
from oodaloo.infra.db.base import Base
from oodaloo.infra.jobs import models as smart_sync_models

__all__ = [
    "ap_decisions",
    "ap_recurring",
    "ap_scheduled_models",
    "ar_reminder_models",
    "core_alerts",
    "core_audit",
    "core_digest_models",
    "core_drift",
    "core_impact",
    "core_models",
    "core_plan_models",
    "core_reserves",
    "core_snapshots",
    "core_trial_models",
    "metadata",
    "qbo_mirror_models",
    "qbo_models",
    "qbo_webhooks_models",
    "smart_sync_models",
]

metadata = Base.metadata
