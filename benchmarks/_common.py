"""Shared helpers for benchmarks: timing statistics and writing results."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

BENCH_DIR = Path("var/bench")


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (``pct`` from 0 to 100)."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def write_results(name: str, figures: dict[str, float]) -> Path:
    """Print each figure and write them to ``var/bench/<name>.json``."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{name}.json"
    rounded = {key: round(value, 3) for key, value in figures.items()}
    path.write_text(json.dumps(rounded, indent=2, sort_keys=True) + "\n")
    width = max(len(key) for key in rounded)
    print(f"\n{name} ({path})")
    for key, value in rounded.items():
        print(f"  {key:<{width}}  {value}")
    return path
