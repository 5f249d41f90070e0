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


def write_results(name: str, figures: dict[str, float], baselines: dict[str, str] | None = None) -> Path:
    """Print each figure and write them to ``var/bench/<name>.json`` as flat ``{name: number}``.

    ``baselines`` maps a figure to the figure it is judged against (measured in the same run): the ratio is printed
    beside it and written as ``<figure>_over_<baseline>`` (``_ms`` dropped from both names).
    """
    ratios = {
        f"{figure.removesuffix('_ms')}_over_{baseline.removesuffix('_ms')}": figures[figure] / figures[baseline]
        for figure, baseline in (baselines or {}).items()
    }
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{name}.json"
    rounded = {key: round(value, 3) for key, value in (figures | ratios).items()}
    path.write_text(json.dumps(rounded, indent=2, sort_keys=True) + "\n")
    width = max(len(key) for key in figures)
    print(f"\n{name} ({path})")
    for key in figures:
        baseline = (baselines or {}).get(key)
        against = f"  ({figures[key] / figures[baseline]:.2f} x {baseline})" if baseline else ""
        print(f"  {key:<{width}}  {rounded[key]:>10}{against}")
    return path
