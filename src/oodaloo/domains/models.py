"""Every domain's tables registered on one metadata: what migrations are compared against."""

from __future__ import annotations

from oodaloo.domains.core import models as core_models
from oodaloo.infra.db.base import Base

__all__ = ["core_models", "metadata"]

metadata = Base.metadata
