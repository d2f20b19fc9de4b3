"""``ContainerSupervisor``: restart-on-failure for Harmony's containers, since podman here has no systemd.

Where it lives and why: podman 4 without systemd restarts nothing after a crash, so the always-on side of
Harmony does it. The supervisor is an asyncio task of the agent process (``harmony containers supervise``
runs it on its own). It only ever sees containers labelled as Harmony's (``ContainerRuntime`` guarantees
it), so it adopts whatever an earlier Harmony created — across restarts of Harmony itself — and never
touches anyone else's.

Policy per container, from the ``io.harmony.restart`` label set at creation: ``always`` restarts any
stopped container, ``on-failure`` one that exited with a non-zero status (killed, crashed), ``no`` none.
A running container with a health check is checked once per tick and restarted (stop with ``grace``, start)
after ``retries`` failed checks in a row. A container that keeps failing is restarted with a doubling
back-off (``base_delay`` up to ``max_delay``);
the back-off resets once it has stayed up for ``stable_after`` seconds.
Not guaranteed: a restart faster than ``interval`` + back-off; a user's ``podman stop`` of a Harmony
container is drift and, under ``always``, is undone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from harmony.domain.capabilities.containers import RESTART_LABEL, ContainerInfo, ContainerRuntime
from harmony.domain.errors import ContainerError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """What the supervisor decided for one container, and why, in one line."""

    container: str
    action: Literal["restart", "wait", "leave"]
    reason: str

    def __str__(self) -> str:
        return f"{self.container}: {self.action} ({self.reason})"


@dataclass
class History:
    failures: int = 0
    last_restart: float = float("-inf")
    unhealthy: int = 0


def decide(info: ContainerInfo, history: History, now: float, *, base_delay: float, max_delay: float) -> Decision:
    """Restart, wait (back-off) or leave ``info``: a pure function of what was observed."""
    policy = info.labels.get(RESTART_LABEL, "no")
    if info.running or info.state in ("paused", "created"):
        return Decision(info.name, "leave", info.state)
    if policy == "no":
        return Decision(info.name, "leave", f"{info.state}, restart policy no")
    if policy == "on-failure" and info.exit_code == 0:
        return Decision(info.name, "leave", "exited 0, restart policy on-failure")
    delay = min(max_delay, base_delay * 2 ** max(0, history.failures - 1)) if history.failures else 0.0
    if now - history.last_restart < delay:
        return Decision(info.name, "wait", f"exited {info.exit_code}, back-off {delay:.1f}s")
    return Decision(info.name, "restart", f"exited {info.exit_code}, restart policy {policy}")


def decide_health(info: ContainerInfo, history: History, healthy: bool) -> Decision:
    """After one health check of a running container: restart once ``retries`` checks failed in a row."""
    retries = info.health_retries or 1
    if healthy:
        return Decision(info.name, "leave", "healthy")
    if history.unhealthy + 1 >= retries:
        return Decision(info.name, "restart", f"unhealthy: {history.unhealthy + 1} failed health checks in a row")
    return Decision(info.name, "wait", f"failed health check {history.unhealthy + 1} of {retries}")


@dataclass
class ContainerSupervisor:
    runtime: ContainerRuntime
    interval: float = 1.0
    base_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 10.0
    grace: float = 5.0
    restarts: int = 0
    _history: dict[str, History] = field(default_factory=dict[str, History])

    async def tick(self) -> Sequence[Decision]:
        """Look once at every Harmony container and restart those that should run again."""
        now = time.monotonic()
        containers = await self.runtime.list_containers()
        decisions: list[Decision] = []
        for info in containers:
            history = self._history.setdefault(info.name, History())
            if info.running and now - history.last_restart > self.stable_after:
                history.failures = 0
            if info.running and info.health_retries is not None:
                decision = await self._check_health(info, history)
            else:
                decision = decide(info, history, now, base_delay=self.base_delay, max_delay=self.max_delay)
            if decision.action == "restart":
                history.failures += 1
                history.last_restart = now
                try:
                    if info.running:
                        await self.runtime.stop_container(info.name, grace=self.grace)
                    await self.runtime.start_container(info.name)
                    self.restarts += 1
                except ContainerError as e:  # removed meanwhile, or failing again: next tick decides
                    decision = Decision(info.name, "wait", f"restart failed: {e}")
            if decision.action != "leave":
                log.info("supervisor: %s", decision)
            decisions.append(decision)
        for gone in set(self._history) - {c.name for c in containers}:
            del self._history[gone]
        return decisions

    async def _check_health(self, info: ContainerInfo, history: History) -> Decision:
        try:
            healthy = await self.runtime.check_health(info.name)
        except ContainerError as e:
            return Decision(info.name, "leave", f"health check could not run: {e}")
        decision = decide_health(info, history, healthy)
        history.unhealthy = 0 if decision.action in ("leave", "restart") else history.unhealthy + 1
        return decision

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set; a failing tick is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.tick()
            except ContainerError as e:
                log.warning("supervisor: cannot list containers: %s", e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
