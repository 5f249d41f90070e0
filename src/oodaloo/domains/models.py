"""Every table registered on one metadata: what migrations are compared against."""

from __future__ import annotations

from oodaloo.domains.core import models as core_models
from oodaloo.domains.qbo import models as qbo_models
from oodaloo.infra.db.base import Base
from oodaloo.infra.jobs import models as smart_sync_models

__all__ = ["core_models", "metadata", "qbo_models", "smart_sync_models"]

metadata = Base.metadata
