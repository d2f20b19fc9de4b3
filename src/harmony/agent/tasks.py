"""Named, guarded asyncio tasks (after kopf's ``aiotasks``): each logs its own crash and sets ``failed``;
``stop_all`` cancels them in order, waits with a timeout, and re-raises the first failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine

log = logging.getLogger("harmony.agent")


class TaskGroup:
    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.failed = asyncio.Event()
        self.first_error: BaseException | None = None

    def start(self, name: str, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(self._guard(name, coro), name=name)
        self.tasks.append(task)
        return task

    async def _guard(self, name: str, coro: Coroutine[object, object, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("task %s crashed", name)
            if self.first_error is None:
                self.first_error = e
            self.failed.set()

    async def stop_all(self, *, timeout: float = 10.0) -> None:
        for task in reversed(self.tasks):
            task.cancel()
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=timeout)
            for task in pending:
                log.error("task %s did not stop within %ss", task.get_name(), timeout)
        if self.first_error is not None:
            raise self.first_error
