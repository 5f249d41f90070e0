"""``oodaloo <command>`` with the wall clock moved by ``OODALOO_TEST_CLOCK_SHIFT_SECONDS`` (time-machine, ticking on
from there), for process tests about a day of the week: their workers and schedulers live on that day while the test
(and Redis, and the database) keep the real time. Run as ``python -m tests.acceptance.shifted_clock worker``."""

from __future__ import annotations

import os
import sys
import time

import time_machine

SHIFT_VARIABLE = "OODALOO_TEST_CLOCK_SHIFT_SECONDS"


def shifted_command(*args: str) -> list[str]:
    """The command line that runs ``oodaloo <args>`` under the shifted clock (from the repository's root)."""
    return [sys.executable, "-m", "tests.acceptance.shifted_clock", *args]


def main() -> None:
    # Every process given the same shift agrees on the time (each adds it to the real time it starts at).
    time_machine.travel(time.time() + float(os.environ[SHIFT_VARIABLE]), tick=True).start()
    from oodaloo.cli import app

    app(args=sys.argv[1:])


if __name__ == "__main__":
    main()
