"""Coalesce the reads issued in one event-loop tick into one batch call.

The Maestro plans every Score concurrently; each plan's first read lands in the same loop iteration, or
a few later when a plan gathers its reads in tasks of its own (and a role's prerequisites, planned beside
them, do the same). A ``Coalescer`` queues the keys asked for until the loop has gone round
``SETTLE_PASSES`` more times after the first one, then fetches them all with one call of ``fetch`` and
hands every caller its own part. Guaranteed: one ``fetch`` per such window and per coalescer; an error in
``fetch`` is raised to every caller of that batch. Not guaranteed: a read issued after an await of
anything else (a sleep, another round trip) joins the next batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence

SETTLE_PASSES = 3
"""Loop passes a batch waits after its first read: each level of tasks (``asyncio.gather``) between a
plan's start and its read costs one. Costs nothing measurable: the loop has nothing else ready."""


class Coalescer[K: Hashable, V]:
    def __init__(self, fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._fetch = fetch
        self._waiting: list[tuple[Sequence[K], asyncio.Future[Mapping[K, V]]]] = []
        self._flushing: set[asyncio.Task[None]] = set()
        self.batches = 0

    async def get(self, keys: Sequence[K]) -> dict[K, V]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Mapping[K, V]] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._start_flush)
        self._waiting.append((keys, future))
        found = await future
        return {k: found[k] for k in keys}

    def _start_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self) -> None:
        for _ in range(SETTLE_PASSES):  # reads of tasks started by the callers' own gathers, nested
            await asyncio.sleep(0)
        waiting, self._waiting = self._waiting, []
        keys = list(dict.fromkeys(k for ks, _ in waiting for k in ks))
        self.batches += 1
        try:
            found = await self._fetch(keys)
        except BaseException as e:
            for _, f in waiting:
                if not f.done():
                    f.set_exception(e)
            if not isinstance(e, Exception):
                raise
            return
        for _, f in waiting:
            if not f.done():
                f.set_result(found)
