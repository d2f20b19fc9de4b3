"""Run Scores on every host of a ``HostGroup``: one Maestro run per host, many hosts at once.

The Scores are the same list for every host, or a function of the host (``Deployment.scores_on``), called
for every host before any host starts, so a host whose Scores cannot be built fails the whole run up front.

Guaranteed: at most ``group.parallelism`` hosts run at a time; each host gets its own run (ready, plan,
apply, close) with its own journal entry, so a host that fails to connect or fails a Score is a FAILURE
of that host only. With ``group.stop_on_failure`` the hosts not yet started when one fails are skipped.
With ``confirm``, every host is planned first and ``confirm`` sees all the plans before anything is applied.
Not guaranteed: an order between hosts, or between their events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from harmony.domain.companion import Verification
from harmony.domain.host_group import HostGroup
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.topology import Topology
from harmony.maestro.events import Event, Mode
from harmony.maestro.journal import Journal
from harmony.maestro.runner import Maestro, RunReport

type HostEventSink = Callable[[str, Event], None]


@dataclass
class HostRun:
    """One host's part of a group run; ``report`` is ``None`` when the host was skipped."""

    host: str
    report: RunReport | None
    duration: float = 0.0
    skipped: str | None = None
    error: str | None = None

    @property
    def status(self) -> Status | None:
        if self.error is not None:
            return Status.FAILURE
        return None if self.report is None else self.report.status


@dataclass
class GroupReport:
    mode: Mode
    hosts: list[HostRun]
    error: str | None = None

    @property
    def status(self) -> Status:
        statuses = {h.status for h in self.hosts}
        if self.error or Status.FAILURE in statuses or None in statuses:
            return Status.FAILURE
        return Status.SUCCESS if Status.SUCCESS in statuses else Status.NOOP


type GroupConfirm = Callable[[Sequence[HostRun]], Awaitable[bool]]
type ScoresPerHost[T: Topology] = Sequence[Score[T]] | Callable[[T], Sequence[Score[T]]]


async def run_group[T: Topology](
    group: HostGroup[T],
    scores: ScoresPerHost[T],
    *,
    mode: Mode,
    journal: Journal | None = None,
    on_event: HostEventSink | None = None,
    deployment: str = "<python>",
    smoke_tests: Sequence[Verification] = (),
    keep_going: bool = False,
    confirm: GroupConfirm | None = None,
    lock_wait: float | None = None,
) -> GroupReport:
    """Plan (``mode="plan"``) or apply ``scores`` (or ``scores(host)``) on every host of ``group``."""
    plans = [(h, tuple(scores(h)) if callable(scores) else tuple(scores)) for h in group.hosts]
    if mode == "apply" and confirm is not None:
        planned = await _fan_out(
            group, plans, "plan", journal, on_event, deployment, smoke_tests, keep_going, lock_wait
        )
        if planned.status is Status.FAILURE:
            return planned
        if any(h.report and h.report.status is Status.SUCCESS for h in planned.hosts) and not await confirm(
            planned.hosts
        ):
            return GroupReport(mode=mode, hosts=planned.hosts, error="not confirmed; nothing was applied")
    return await _fan_out(group, plans, mode, journal, on_event, deployment, smoke_tests, keep_going, lock_wait)


async def _fan_out[T: Topology](
    group: HostGroup[T],
    plans: Sequence[tuple[T, Sequence[Score[T]]]],
    mode: Mode,
    journal: Journal | None,
    on_event: HostEventSink | None,
    deployment: str,
    smoke_tests: Sequence[Verification],
    keep_going: bool,
    lock_wait: float | None,
) -> GroupReport:
    slots = asyncio.Semaphore(group.parallelism)
    failed = asyncio.Event()

    async def one(host: T, scores: Sequence[Score[T]]) -> HostRun:
        async with slots:
            if group.stop_on_failure and failed.is_set():
                return HostRun(host=host.name, report=None, skipped="another host failed (stop_on_failure)")
            sink = None if on_event is None else _for_host(on_event, host.name)
            maestro = Maestro(host, journal=journal, on_event=sink, deployment=deployment, lock_wait=lock_wait)
            started = time.monotonic()
            try:
                if mode == "plan":
                    report = await maestro.plan(scores)
                else:
                    report = await maestro.apply(scores, smoke_tests=smoke_tests, keep_going=keep_going)
            except Exception as e:  # a bug on one host must not take the other hosts' runs down with it
                failed.set()
                error = f"unexpected {type(e).__name__}: {e}"
                return HostRun(host=host.name, report=None, duration=time.monotonic() - started, error=error)
            if report.status is Status.FAILURE:
                failed.set()
            return HostRun(host=host.name, report=report, duration=time.monotonic() - started)

    runs = await asyncio.gather(*(one(h, scores) for h, scores in plans))
    return GroupReport(mode=mode, hosts=list(runs))


def _for_host(sink: HostEventSink, host: str) -> Callable[[Event], None]:
    def emit(event: Event) -> None:
        sink(host, event)

    return emit
