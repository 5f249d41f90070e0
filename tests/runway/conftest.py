"""Fixtures of the route tests: signed-out browsers on the app a module serves and, for a module that does not serve
its own (the action, plan and scheduled-payment tests), the app beside a sandbox with jobs in-process, and a business
of its own whose mirror is synced (``books``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oodaloo.settings import Settings
from tests.runway.action_support import Books, connected_books, serve_for_actions
from tests.support.qbo import Browsers, Served, open_browsers


@pytest.fixture(scope="module")
def served(settings: Settings) -> Iterator[Served]:
    with serve_for_actions(settings) as (served, _app):
        yield served


@pytest.fixture
def browsers(served: Served) -> Iterator[Browsers]:
    yield from open_browsers(served)


@pytest.fixture
def books(served: Served, browsers: Browsers) -> Books:
    return connected_books(served, browsers)
