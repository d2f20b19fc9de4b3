"""Named points where a process kills itself with SIGKILL when ``HARMONY_CRASH_AT`` names them.

A test sets the variable to prove what an interrupted command leaves behind (a real ``kill -9`` at an exact
step, not a simulated one); unset, a crash point does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_AT = "HARMONY_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
