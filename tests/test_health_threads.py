"""`status` asks every host at once and gives up on a silent one at its deadline: the
question left behind must not keep the process alive (a thread pool's workers are joined
at exit, so `status` used to sit out a stuck SSH time-out after printing its table)."""

from __future__ import annotations

import subprocess
import sys
import time

PROGRAM = """
import time
from harbor_wizard.health import _Daemons
job = _Daemons().submit(time.sleep, 60)
print(job.done())
"""


def test_an_abandoned_question_does_not_hold_the_exit() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=50, check=True
    )
    assert done.stdout.strip() == "False"
    assert time.monotonic() - started < 30  # seconds of start-up, never the minute asked


def test_an_answer_and_an_error_reach_the_one_who_waits() -> None:
    from harbor_wizard.health import _Daemons

    pool = _Daemons()
    assert pool.submit(lambda a, b: a + b, 2, 3).result(timeout=5) == 5
    failing = pool.submit(int, "not a number")
    assert isinstance(failing.exception(timeout=5), ValueError)
