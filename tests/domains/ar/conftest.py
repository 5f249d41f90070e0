"""Fixtures for the receivables tests that read a synced mirror: the sandbox tests' served sandbox."""

from __future__ import annotations

from tests.sandbox.conftest import sandbox

__all__ = ["sandbox"]  # the fixture shared with the sandbox's own tests
