"""Fixtures for the runway core's tests that read a synced mirror: the sandbox tests' served sandbox."""

from __future__ import annotations

from tests.sandbox.conftest import sandbox, sandbox_config

__all__ = ["sandbox", "sandbox_config"]  # fixtures shared with the sandbox's own tests
