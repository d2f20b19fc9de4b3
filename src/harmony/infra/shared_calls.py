"""``SharedCalls``: callers asking for the same key at the same time share one run of the work.

A device agent starts pulling a new version's image while it plans; the apply that follows asks for the same
pull and joins it instead of waiting for the first to end and then looking again. The work runs in a task of
its own: a caller that is cancelled stops waiting, and the work is cancelled (and waited for, so its commands
are stopped) only when no caller is left. A finished run is forgotten: the next call starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Hashable


class SharedCalls[K: Hashable, T]:
    def __init__(self) -> None:
        self._running: dict[K, tuple[asyncio.Task[T], list[int]]] = {}

    async def call(self, key: K, work: Callable[[], Coroutine[object, object, T]]) -> T:
        """``work()``'s result, or its exception; run once for every caller of ``key`` until it ends."""
        entry = self._running.get(key)
        if entry is None or entry[0].done():
            task = asyncio.ensure_future(work())
            entry = self._running[key] = (task, [0])
            task.add_done_callback(lambda done: self._forget(key, done))
        task, callers = entry
        callers[0] += 1
        try:
            return await asyncio.shield(task)
        finally:
            callers[0] -= 1
            if callers[0] == 0 and not task.done():  # the last caller gave up: so does the work
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    def _forget(self, key: K, done: asyncio.Task[T]) -> None:
        entry = self._running.get(key)
        if entry is not None and entry[0] is done:
            del self._running[key]
