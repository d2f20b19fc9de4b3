"""One supervisor for the named asyncio tasks of every agent role (after kopf's ``aiotasks``), failing loudly.

- ``start(name, work)``: a long-running task made by ``work()``. When it raises anything but a cancellation
  (a ``HarmonyError`` or any other bug), the crash is logged with its traceback, counted in ``health()``,
  passed to ``on_crash`` (the role's metric or event), and the task is started again from a fresh coroutine
  after a doubling back-off (``base_delay`` up to ``max_delay``; reset once a run lasted ``stable_after``).
  With ``restart=False`` a crash is final instead: ``failed`` is set and ``stop_all`` re-raises it (the
  failover agent uses this for the watchdog it cannot run without).
- ``start_once(name, coro)``: a one-shot task (a resync after a reconnect). Starting one under a name that is
  still running cancels the older one first, and finished tasks are forgotten at once, so any number of
  reconnects leaves the same number of tasks.
- ``stop_all``: cancels every task (newest first), waits for them with a timeout, re-raises the first final
  failure.

Not guaranteed: a task that swallows ``CancelledError`` is reported as not stopping, never awaited forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("harmony.agent")

type Work = Callable[[], Coroutine[object, object, None]]
type CrashHook = Callable[[str, BaseException], None]
type TaskState = Literal["running", "restarting", "failed", "done"]


@dataclass
class TaskHealth:
    """What the supervisor knows of one named task: its state, how often it crashed, and the last error."""

    name: str
    state: TaskState = "running"
    crashes: int = 0
    last_error: str = ""


class Supervisor:
    def __init__(
        self,
        *,
        owner: str = "agent",
        on_crash: CrashHook | None = None,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
    ) -> None:
        self.owner = owner
        self.on_crash = on_crash
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.failed = asyncio.Event()
        self.first_error: BaseException | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._health: dict[str, TaskHealth] = {}

    # -- starting ----------------------------------------------------------------------------------------

    def start(self, name: str, work: Work, *, restart: bool = True) -> asyncio.Task[None]:
        """Run ``work()`` as the task ``name``, restarting it after each crash (unless ``restart=False``)."""
        self._cancel(name)
        self._health[name] = TaskHealth(name)
        return self._spawn(name, self._supervise(name, work, restart))

    def start_once(self, name: str, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        """Run ``coro`` once as ``name``, replacing a still-running task of that name; a crash is reported."""
        self._cancel(name)
        return self._spawn(name, self._once(name, coro))

    def _spawn(self, name: str, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=f"{self.owner}:{name}")
        self._tasks[name] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tasks.get(name) is done:
                del self._tasks[name]

        task.add_done_callback(forget)
        return task

    def _cancel(self, name: str) -> None:
        old = self._tasks.pop(name, None)
        if old is not None:
            old.cancel()

    # -- supervising -------------------------------------------------------------------------------------

    async def _supervise(self, name: str, work: Work, restart: bool) -> None:
        health = self._health[name]
        streak = 0
        while True:
            started = time.monotonic()
            health.state = "running"
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._crashed(name, e)
                if not restart:
                    health.state = "failed"
                    if self.first_error is None:
                        self.first_error = e
                    self.failed.set()
                    return
                streak = 0 if time.monotonic() - started >= self.stable_after else streak + 1
                delay = min(self.max_delay, self.base_delay * 2 ** min(streak - 1, 16)) if streak else 0.0
                health.state = "restarting"
                log.error("%s: task %s restarts in %.1fs (crash %d)", self.owner, name, delay, health.crashes)
                await asyncio.sleep(delay)
            else:
                health.state = "done"
                return

    async def _once(self, name: str, coro: Coroutine[object, object, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._crashed(name, e)

    def _crashed(self, name: str, error: BaseException) -> None:
        health = self._health.setdefault(name, TaskHealth(name))
        health.crashes += 1
        health.last_error = f"{type(error).__name__}: {error}"
        log.error("%s: task %s crashed: %s", self.owner, name, health.last_error, exc_info=error)
        if self.on_crash is not None:
            try:
                self.on_crash(name, error)
            except Exception:  # a broken reporter must not hide the crash it reports
                log.exception("%s: reporting the crash of %s failed", self.owner, name)

    # -- what it knows -----------------------------------------------------------------------------------

    @property
    def running(self) -> int:
        """How many tasks exist now (running or waiting to restart); finished ones are not counted."""
        return sum(not t.done() for t in self._tasks.values())

    @property
    def crashes(self) -> int:
        return sum(h.crashes for h in self._health.values())

    def health(self) -> list[TaskHealth]:
        return [TaskHealth(h.name, h.state, h.crashes, h.last_error) for h in self._health.values()]

    def unhealthy(self) -> list[str]:
        """The long-running tasks that are not running now (restarting after a crash, or failed for good)."""
        return sorted(h.name for h in self._health.values() if h.state in ("restarting", "failed"))

    # -- stopping ----------------------------------------------------------------------------------------

    async def stop_all(self, *, timeout: float = 10.0) -> None:
        tasks = list(self._tasks.values())
        for task in reversed(tasks):
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.error("%s: task %s did not stop within %ss", self.owner, task.get_name(), timeout)
            for task in tasks:
                if task.done():
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        task.result()
        self._tasks.clear()
        if self.first_error is not None:
            raise self.first_error
