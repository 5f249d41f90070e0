"""``python -m benchmarks``: run every benchmark in turn."""

from __future__ import annotations

from . import sandbox_bench, smartsync_bench, sync_bench


def main() -> None:
    sandbox_bench.main()
    smartsync_bench.main()
    sync_bench.main()


if __name__ == "__main__":
    main()
