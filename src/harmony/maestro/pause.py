"""A test hook that stops a run at a named step boundary, so tests can interrupt it there deterministically.

With ``HARMONY_PAUSE_AT=<point>`` and ``HARMONY_PAUSE_FILE=<path>`` in the environment, a run that reaches
``<point>`` writes the point's name to ``<path>`` and waits there until that file is removed, or the run is
cancelled or killed. Points:
``locked`` (run lock taken, nothing planned), ``planned`` (every Score planned, nothing applied),
``apply:<score>`` (just before that Score is applied; if it changes anything, the plans and the earlier
outcomes are journaled) and ``applied:<score>`` (just after its outcome is recorded: journaled, or held back
with the other unchanged ones until the next change or the end of the run). Unset (always, outside tests),
it costs one dictionary lookup per point.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path


async def pause_point(name: str) -> None:
    if os.environ.get("HARMONY_PAUSE_AT") != name:
        return
    flag = os.environ.get("HARMONY_PAUSE_FILE")
    if not flag:
        await asyncio.Event().wait()
        return
    path = Path(flag)
    await asyncio.to_thread(path.write_text, name)
    while await asyncio.to_thread(path.exists):  # noqa: ASYNC110 - another process removes it: no event
        await asyncio.sleep(0.05)
