"""Fixtures for the QBO domain's tests: the sandbox tests' served sandbox, each module choosing its config by
overriding ``sandbox_config``."""

from __future__ import annotations

from tests.sandbox.conftest import sandbox, sandbox_config

__all__ = ["sandbox", "sandbox_config"]  # fixtures shared with the sandbox's own tests
