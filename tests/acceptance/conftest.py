"""Fixtures of the issue #3 acceptance tests: the ``slow`` marker and where measured figures are written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.app_process import REPO_ROOT

BENCH_DIR = REPO_ROOT / "var" / "bench"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: an acceptance test that takes tens of seconds (still part of `make test`)"
    )


@pytest.fixture
def report_figures(record_property: Any) -> Any:
    """Attach figures to the test's report (shown under xdist in JUnit XML) and write them to var/bench/<name>.json."""

    def report(name: str, figures: dict[str, Any]) -> Path:
        for key, value in figures.items():
            record_property(key, value)
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        path = BENCH_DIR / f"{name}.json"
        path.write_text(json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n")
        return path

    return report
