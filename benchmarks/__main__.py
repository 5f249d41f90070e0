"""``python -m benchmarks``: run every benchmark in turn."""

from __future__ import annotations

from . import (
    backtest_bench,
    experiences_bench,
    freshness_bench,
    runway_bench,
    sandbox_bench,
    smartsync_bench,
    sync_bench,
)


def main() -> None:
    sandbox_bench.main()
    smartsync_bench.main()
    sync_bench.main()
    freshness_bench.main()  # after sync_bench: it merges its figures into the same file
    runway_bench.main()
    backtest_bench.main()
    experiences_bench.main()


if __name__ == "__main__":
    main()
