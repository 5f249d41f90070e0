"""What every page test in a real browser checks alike: a screenshot saved as a test artifact, an axe-core scan that
fails on any serious or critical violation, no sideways scrolling, the keyboard reaching a control with its focus
visible, the two screens pages are tried on — and the embedded app served on a port of its own for such tests.

Screenshots go under ``$OODALOO_TEST_ARTIFACTS`` (default ``var/test-artifacts/``, relative to the repository), one
folder per test, numbered in the order taken: ``<test file>/<test name>/03-bills.png``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from playwright.sync_api import Locator, Page, ViewportSize

from oodaloo.main import create_app
from oodaloo.settings import Settings
from tests.support.credentials import TEST_SECRET_KEY
from tests.support.servers import serve

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ARTIFACTS = "var/test-artifacts"
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
VIEWPORTS: dict[str, ViewportSize] = {"phone": PHONE, "laptop": LAPTOP}
# What an accessibility scan fails on: axe-core's two worst impacts (it also reports "moderate" and "minor").
BLOCKING_IMPACTS = ("serious", "critical")
# Nodes listed per violated rule in a failure: enough to find the pattern, short enough to read.
NODES_SHOWN = 8
START_SECONDS = 60.0

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Screenshots taken so far by each test (keyed by its folder), for their sequence numbers.
_taken: defaultdict[Path, itertools.count[int]] = defaultdict(lambda: itertools.count(1))


# ------------------------------------------------------------------------------------------------ viewports
def phone(page: Page) -> Page:
    """``page`` resized to a 390 x 844 phone (an iPhone 12-14's CSS pixels)."""
    page.set_viewport_size(PHONE)
    return page


def laptop(page: Page) -> Page:
    page.set_viewport_size(LAPTOP)
    return page


# ----------------------------------------------------------------------------------------------- screenshots
def safe_name(text: str, limit: int = 80) -> str:
    """``text`` as a file name on any system: letters, digits, ``.``, ``_`` and ``-`` only."""
    return _UNSAFE.sub("-", text).strip("-.")[:limit] or "page"


def artifacts_root() -> Path:
    folder = Path(os.environ.get("OODALOO_TEST_ARTIFACTS") or DEFAULT_ARTIFACTS)
    return folder if folder.is_absolute() else REPO_ROOT / folder


def test_folder() -> Path:
    """This test's own folder of artifacts (``<test file>/<test name with its parameters>``), created if missing."""
    # pytest sets it for the test running now: "tests/acceptance/test_x.py::test_walk[phone] (call)".
    current = os.environ.get("PYTEST_CURRENT_TEST", "outside-a-test").rsplit(" ", 1)[0]
    module, _, test = current.partition("::")
    folder = artifacts_root() / safe_name(Path(module).stem) / safe_name(test or "module", limit=120)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page (not only what the viewport shows) as ``NN-<name>.png`` in this test's folder; the
    number keeps the steps in order and two shots of one name apart."""
    folder = test_folder()
    if folder not in _taken:  # this test's first shot in this run: an earlier run's shots would mislead
        for stale in folder.glob("*.png"):
            stale.unlink()
    path = folder / f"{next(_taken[folder]):02d}-{safe_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ------------------------------------------------------------------------------------------------- axe-core
@cache
def axe_source() -> str:
    """axe-core as shipped inside the installed axe-playwright-python package (no network, a pinned version)."""
    return resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it stands (injected once per document)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    violations: list[dict[str, Any]] = page.evaluate(
        "async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return violations


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        nodes = violation.get("nodes", [])
        for node in nodes[:NODES_SHOWN]:
            lines.append(f"    {' >>> '.join(str(part) for part in node.get('target', []))}")
        if len(nodes) > NODES_SHOWN:
            lines.append(f"    … and {len(nodes) - NODES_SHOWN} more")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation; the failure lists each rule, its impact and the nodes' selectors."""
    blocking = [v for v in axe_violations(page) if v.get("impact") in BLOCKING_IMPACTS]
    assert not blocking, (
        f"axe-core finds {len(blocking)} serious or critical violation(s) on {page.url} "
        f"at {page.viewport_size}:\n{describe_violations(blocking)}"
    )


# ------------------------------------------------------------------------------------------------- overflow
# The element reaching furthest right past the viewport, skipping those an ancestor scrolls or clips (a table in its
# .table-wrap may be wider than the screen: its box scrolls, not the page). Ties go to the outermost element.
_WIDEST_OFFENDER = """() => {
  const limit = window.innerWidth;
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return up.getBoundingClientRect().right <= limit + 0.5;
    }
    return false;
  };
  const path = (el) => {
    const parts = [];
    for (let at = el; at && at !== document.body && parts.length < 5; at = at.parentElement) {
      let part = at.tagName.toLowerCase();
      if (at.id) { parts.unshift(part + '#' + at.id); break; }
      if (at.classList.length) part += '.' + [...at.classList].join('.');
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  let widest = null, right = limit + 0.5;
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right > right && !clipped(el)) { widest = el; right = box.right; }
  }
  if (!widest) return null;
  const text = (widest.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
  return {selector: path(widest), right: Math.round(right), text: text};
}"""


def assert_no_horizontal_overflow(page: Page) -> None:
    """The page does not scroll sideways (``scrollWidth <= innerWidth``); a failure names the widest element."""
    scroll_width, inner_width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if scroll_width <= inner_width:
        return
    widest = page.evaluate(_WIDEST_OFFENDER)
    culprit = (
        f"the widest element is {widest['selector']} (right edge at {widest['right']} px): {widest['text']!r}"
        if widest
        else "no single element's box reaches past the screen (a margin or a transform may)"
    )
    raise AssertionError(f"{page.url} is {scroll_width} px wide on a {inner_width} px screen; {culprit}")


# ------------------------------------------------------------------------------------------------- keyboard
_FOCUS_VISIBLE = """(el) => {
  const style = getComputedStyle(el);
  const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return el.matches(':focus-visible') && (outlined || style.boxShadow !== 'none');
}"""
_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'nothing';
  const label = (el.getAttribute('aria-label') || el.textContent || el.value || '').trim().replace(/\\s+/g, ' ');
  return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + label.slice(0, 50) + '"';
}"""


def tab_to(page: Page, target: Locator, *, presses: int = 150) -> int:
    """Press Tab (from wherever the focus is: the top of a page just loaded) until ``target`` has the focus, and check
    that the focus shows; returns how many presses it took. Fails naming what had the focus last."""
    for count in range(1, presses + 1):
        page.keyboard.press("Tab")
        if target.evaluate("(el) => el === document.activeElement"):
            assert target.evaluate(_FOCUS_VISIBLE), f"the focus on {page.evaluate(_FOCUSED)} is not visible"
            return count
    raise AssertionError(
        f"{presses} presses of Tab on {page.url} never reached {target}; the focus ended on {page.evaluate(_FOCUSED)}"
    )


# ----------------------------------------------------------------------------------------- the served app
@dataclass(frozen=True)
class EmbeddedApp:
    """The embedded default served on a loopback port: its URL, its settings and the app (for its state)."""

    url: str
    settings: Settings
    app: FastAPI

    @property
    def sandbox(self) -> str:
        """The mounted QBO sandbox's base URL (its /v3 API, OAuth server and /_sandbox admin paths)."""
        return self.settings.qbo_api_base_url.rstrip("/")


@contextlib.contextmanager
def serve_embedded(settings_for: Callable[[int], Settings]) -> Iterator[EmbeddedApp]:
    """The app from ``settings_for(port)`` on a port bound first, so that its settings (the mounted sandbox's URLs, the
    OAuth redirect) name the port it is reached on: QuickBooks' consent in a browser comes back to it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        settings = settings_for(listener.getsockname()[1])
        app = create_app(settings)
        with serve(app, listener=listener, start_seconds=START_SECONDS) as url:
            yield EmbeddedApp(url, settings, app)


def embedded_settings_for(folder: Path, database_url: str, **overrides: Any) -> Callable[[int], Settings]:
    """Settings of the embedded default (the sandbox mounted, jobs in-process, mail to a file outbox in ``folder``)
    for a visitor who is nobody yet: no demo sign-in, no background sync of every business."""

    def settings_for(port: int) -> Settings:
        values: dict[str, Any] = {
            "environment": "development",
            "port": port,
            "database_url": database_url,
            "secret_key": TEST_SECRET_KEY,
            "sandbox_state_file": str(folder / "sandbox-state.json"),
            "outbox_dir": str(folder / "outbox"),
            "demo_autologin": False,
            "redis_url": None,
            "mirror_sweep": False,
            "digest_schedule": False,
            "sweep_interval_seconds": 0.3,
            "log_level": "WARNING",
        }
        return Settings(**{**values, **overrides})

    return settings_for
