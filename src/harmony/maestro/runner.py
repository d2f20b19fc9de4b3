"""The Maestro runs Scores against one topology: get ready once, plan everything, then apply in order.

What is guaranteed: nothing is applied before every Score has been planned (a plan that fails stops the
run before any change); Scores are applied in the given order; after the first FAILURE the remaining
Scores are skipped unless ``keep_going``; every run is journaled, including runs that fail to start and
runs that are interrupted (``interrupted``, with the Scores applied until then); one run at a time holds a
topology's target (``LockedTarget``), from before its plan to its end.
What is not: plans are read once up front, so a Score whose current state is changed by someone else
between plan and apply acts on the plan it showed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from harmony.domain.change import Change, pending
from harmony.domain.companion import Verification
from harmony.domain.deployment import validate_order
from harmony.domain.errors import HarmonyError, InterpretError
from harmony.domain.outcome import Outcome, Status
from harmony.domain.score import Score, kind_of
from harmony.domain.topology import LockedTarget, LockHolder, PreparedWhilePlanning, Topology
from harmony.maestro.events import (
    Event,
    EventSink,
    Mode,
    RunFinished,
    RunStarted,
    ScoreFinished,
    ScorePlanned,
    ScoreSkipped,
    ScoreStarted,
    SmokeTested,
    TopologyReady,
    WaitingForLock,
)
from harmony.maestro.journal import Journal
from harmony.maestro.pause import pause_point


class PlanFailed(HarmonyError):
    """One or more Scores could not be planned; nothing was applied."""

    def __init__(self, failures: Sequence[InterpretError]) -> None:
        self.failures = tuple(failures)
        super().__init__("; ".join(str(f) for f in failures) + " (nothing was applied)")


type Confirm = Callable[[Sequence[ScoreResult]], Awaitable[bool]]


@dataclass
class ScoreResult:
    score: str
    kind: str
    changes: list[Change] = field(default_factory=list[Change])
    outcome: Outcome | None = None


@dataclass
class RunReport:
    run_id: str
    mode: Mode
    results: list[ScoreResult]
    status: Status
    error: str | None = None
    interrupted: bool = False

    @property
    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status} | {"skipped": 0}
        for r in self.results:
            counts[r.outcome.status.value if r.outcome else "skipped"] += 1
        return counts


class Maestro[T: Topology]:
    """Runs Scores that need the capabilities of ``T`` on ``topology``."""

    def __init__(
        self,
        topology: T,
        *,
        journal: Journal | None = None,
        on_event: EventSink | None = None,
        deployment: str = "<python>",
        lock_wait: float | None = None,
    ) -> None:
        """``lock_wait``: how long to wait for another run on the same target (``None``: as long as it takes;
        0: fail at once with ``TargetBusyError`` naming that run)."""
        self.topology = topology
        self.lock_wait = lock_wait
        self.journal = journal
        self._emit_to = on_event
        self.deployment = deployment

    def _emit(self, event: Event) -> None:
        if self._emit_to is not None:
            self._emit_to(event)

    async def plan(self, scores: Sequence[Score[T]]) -> RunReport:
        """Plan every Score; change nothing."""
        return await self._run("plan", scores, smoke_tests=(), keep_going=True, confirm=None)

    async def apply(
        self,
        scores: Sequence[Score[T]],
        *,
        smoke_tests: Sequence[Verification] = (),
        keep_going: bool = False,
        confirm: Confirm | None = None,
        planned: Sequence[Sequence[Change]] | None = None,
    ) -> RunReport:
        """Plan every Score, ask ``confirm`` (if given) with the plan, then apply in order.

        ``planned``: the changes of each Score that the caller planned just before (a device agent's drift
        check), used as the run's plan instead of planning again — unless readying the target changed
        something there, which makes any plan made before it stale."""
        if planned is not None and len(planned) != len(scores):
            raise ValueError(f"planned: {len(planned)} plans for {len(scores)} Scores; expected one per Score")
        return await self._run(
            "apply", scores, smoke_tests=smoke_tests, keep_going=keep_going, confirm=confirm, planned=planned
        )

    async def _run(
        self,
        mode: Mode,
        scores: Sequence[Score[T]],
        *,
        smoke_tests: Sequence[Verification],
        keep_going: bool,
        confirm: Confirm | None,
        planned: Sequence[Sequence[Change]] | None = None,
    ) -> RunReport:
        run_id = uuid.uuid4().hex[:12]
        started = time.monotonic()
        results = [ScoreResult(score=s.name, kind=kind_of(s)) for s in scores]
        if self.journal:
            self.journal.start_run(run_id, mode=mode, deployment=self.deployment, topology=self.topology.name)
        self._emit(
            RunStarted(run_id=run_id, mode=mode, topology=self.topology.name, scores=tuple(r.score for r in results))
        )
        report = RunReport(run_id=run_id, mode=mode, results=results, status=Status.NOOP)
        target: object = self.topology  # not every topology has a target to lock (a group, a pure-data one)
        lock = target.run_lock() if isinstance(target, LockedTarget) else None
        locked = False
        try:
            validate_order(scores)
            if lock is not None:
                await lock.acquire(
                    LockHolder(run_id=run_id, pid=os.getpid(), host=socket.gethostname(), started=time.time()),
                    wait=self.lock_wait,
                    on_wait=lambda holder: self._emit(
                        WaitingForLock(target=lock.target, holder=holder.describe() if holder else None)
                    ),
                )
                locked = True
                await pause_point("locked")
            await self._ready_and_plan(run_id, scores, results, planned)
            await pause_point("planned")
            has_changes = any(pending(r.changes) for r in results)
            if mode == "apply" and confirm is not None and has_changes and not await confirm(results):
                report.error = "not confirmed; nothing was applied"
                report.status = Status.FAILURE
                for r in results:
                    self._emit(ScoreSkipped(score=r.score, reason="not confirmed"))
                return report
            if mode == "apply":
                await self._apply_all(run_id, scores, results, smoke_tests, keep_going)
                report.status = _overall(results)
            else:
                report.status = Status.SUCCESS if any(pending(r.changes) for r in results) else Status.NOOP
        except HarmonyError as e:
            report.status = Status.FAILURE
            report.error = str(e)
        except (asyncio.CancelledError, KeyboardInterrupt):
            # Ctrl-C or SIGTERM: record what was applied, then let the cancellation go on
            report.status = Status.FAILURE
            report.interrupted = True
            applied = [r.score for r in results if r.outcome is not None and r.outcome.status is Status.SUCCESS]
            report.error = "interrupted; " + (
                f"applied before that: {', '.join(applied)}" if applied else "nothing was applied"
            )
            raise
        except Exception as e:
            report.status = Status.FAILURE
            report.error = f"unexpected {type(e).__name__}: {e}"
            raise
        finally:
            try:
                await self.topology.close()
            finally:
                if lock is not None and locked:
                    await lock.release()
                if self.journal:
                    self.journal.finish_run(run_id, report.status, report.error, interrupted=report.interrupted)
                self._emit(
                    RunFinished(
                        run_id=run_id,
                        status=report.status,
                        counts=report.counts,
                        duration=time.monotonic() - started,
                        interrupted=report.interrupted,
                    )
                )
        return report

    async def _ready_and_plan(
        self,
        run_id: str,
        scores: Sequence[Score[T]],
        results: list[ScoreResult],
        given: Sequence[Sequence[Change]] | None,
    ) -> None:
        t0 = time.monotonic()
        target: object = self.topology
        if not isinstance(target, PreparedWhilePlanning):
            await self.topology.ensure_ready()
            self._emit(TopologyReady(topology=self.topology.name, duration=time.monotonic() - t0))
            plans = await (_as_planned(given) if given is not None else self._plan_all(scores))
            self._record_plans(run_id, scores, results, plans)
            return
        await target.connect()
        # The role's prerequisites and the plans only read on a ready target: together, their reads share
        # one round trip to a remote host.
        planning = self._plan_all(scores) if given is None else _as_planned(given)
        prepared, planned = await asyncio.gather(target.prepare(), planning, return_exceptions=True)
        if isinstance(prepared, BaseException):
            raise prepared
        self._emit(TopologyReady(topology=self.topology.name, duration=time.monotonic() - t0))
        if prepared:  # the plans may have read the target before it was ready
            planned = await self._plan_all(scores)
        if isinstance(planned, BaseException):
            raise planned
        self._record_plans(run_id, scores, results, planned)

    async def _plan_all(self, scores: Sequence[Score[T]]) -> list[list[Change]]:
        # Plans only read, so they run concurrently: a connector can coalesce the reads that all plans
        # issue in the same event-loop tick into one round trip per host.
        planned = await asyncio.gather(*(self._plan_one(score) for score in scores))
        failures = [p for p in planned if isinstance(p, InterpretError)]
        if failures:
            raise PlanFailed(failures)
        return [p for p in planned if not isinstance(p, InterpretError)]

    def _record_plans(
        self, run_id: str, scores: Sequence[Score[T]], results: list[ScoreResult], planned: list[list[Change]]
    ) -> None:
        for position, (score, result, changes) in enumerate(zip(scores, results, planned, strict=True)):
            result.changes = changes
            if self.journal:
                self.journal.record_plan(
                    run_id,
                    position,
                    score=score.name,
                    kind=result.kind,
                    spec=score.model_dump_json(),
                    changes=result.changes,
                )
            self._emit(ScorePlanned(score=score.name, changes=tuple(result.changes)))

    async def _plan_one(self, score: Score[T]) -> list[Change] | InterpretError:
        try:
            return list(await score.interpret().plan(self.topology))
        except InterpretError as e:
            return e
        except HarmonyError as e:
            return InterpretError(score.name, "plan", e)

    async def _apply_all(
        self,
        run_id: str,
        scores: Sequence[Score[T]],
        results: list[ScoreResult],
        smoke_tests: Sequence[Verification],
        keep_going: bool,
    ) -> None:
        failed = False
        for position, (score, result) in enumerate(zip(scores, results, strict=True)):
            if failed and not keep_going:
                self._emit(ScoreSkipped(score=score.name, reason="an earlier Score failed"))
                continue
            if self.journal and pending(result.changes):
                self.journal.flush()  # the plans and the unchanged outcomes are on record before this Score acts
            await pause_point(f"apply:{score.name}")
            self._emit(ScoreStarted(score=score.name))
            t0 = time.monotonic()
            try:
                outcome = await self._apply_one(score, result.changes)
            except (asyncio.CancelledError, KeyboardInterrupt):
                result.outcome = Outcome.failure("interrupted while applying").timed(time.monotonic() - t0)
                if self.journal:
                    self.journal.record_outcome(run_id, position, result.outcome)
                raise
            if outcome.ok:
                outcome = await self._smoke_test(score.name, outcome, [v for v in smoke_tests if v.score is score])
            result.outcome = outcome.timed(time.monotonic() - t0)
            failed = failed or not result.outcome.ok
            if self.journal:
                self.journal.record_outcome(run_id, position, result.outcome)
            self._emit(ScoreFinished(score=score.name, outcome=result.outcome))
            await pause_point(f"applied:{score.name}")

    async def _apply_one(self, score: Score[T], changes: list[Change]) -> Outcome:
        todo = pending(changes)
        if not todo:
            return Outcome.noop()
        try:
            return await score.interpret().apply(self.topology, todo)
        except InterpretError as e:
            return Outcome.failure(str(e))
        except HarmonyError as e:
            return Outcome.failure(str(InterpretError(score.name, "apply", e)))
        except Exception as e:  # an adapter bug must not abort the run half-way without a record
            return Outcome.failure(str(InterpretError(score.name, "apply", f"unexpected {type(e).__name__}: {e}")))

    async def _smoke_test(self, score: str, outcome: Outcome, tests: Sequence[Verification]) -> Outcome:
        for v in tests:
            try:
                result = await v.run()
            except HarmonyError as e:
                result = Outcome.failure(f"{v.test_name} raised: {e}")
            self._emit(SmokeTested(score=score, test=v.test_name, outcome=result))
            if not result.ok:
                return Outcome.failure(
                    f"smoke test {v.test_name} failed: {result.message}", *outcome.details, *result.details
                )
        return outcome


async def _as_planned(given: Sequence[Sequence[Change]]) -> list[list[Change]]:
    return [list(p) for p in given]


def _overall(results: Sequence[ScoreResult]) -> Status:
    statuses = {r.outcome.status for r in results if r.outcome}
    if Status.FAILURE in statuses or any(r.outcome is None for r in results):
        return Status.FAILURE
    return Status.SUCCESS if Status.SUCCESS in statuses else Status.NOOP
