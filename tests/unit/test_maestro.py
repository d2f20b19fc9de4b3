"""The Maestro against the real local filesystem: plan, apply, NOOP, failures, events, smoke tests, journal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

import pytest

from harmony import (
    Change,
    Interpret,
    InterpretError,
    Journal,
    Maestro,
    ManagedFiles,
    Outcome,
    Score,
    SmokeTest,
    Status,
    verify,
)
from harmony.domain.units import FileMode
from harmony.maestro.events import Event
from harmony.maestro.journal import RunStatus
from harmony.maestro.runner import ScoreResult
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost


def etc(root: Path) -> list[Score[LinuxHost]]:
    return [
        ManagedDirectory(path=PurePosixPath("/etc")),
        ManagedFile(path=PurePosixPath("/etc/motd"), content="hello\n", mode=FileMode("0644")),
        ManagedFile(path=PurePosixPath("/etc/app.conf"), content="a=1\n", mode=FileMode("0600")),
    ]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.event for e in self.events]


async def test_plan_changes_nothing_and_reports_every_change(tmp_path: Path) -> None:
    rec = Recorder()
    report = await Maestro(LinuxHost.local(root=tmp_path), on_event=rec).plan(etc(tmp_path))
    assert report.status is Status.SUCCESS
    assert [c.action.value for r in report.results for c in r.changes] == ["create", "create", "create"]
    assert list(tmp_path.iterdir()) == []
    assert rec.kinds() == ["run_started", "topology_ready", *["score_planned"] * 3, "run_finished"]


async def test_apply_then_noop(tmp_path: Path) -> None:
    maestro = Maestro(LinuxHost.local(root=tmp_path))
    first = await maestro.apply(etc(tmp_path))
    assert first.status is Status.SUCCESS
    assert [r.outcome.status for r in first.results if r.outcome] == [Status.SUCCESS] * 3
    assert (tmp_path / "etc/motd").read_text() == "hello\n"
    assert (tmp_path / "etc/app.conf").stat().st_mode & 0o777 == 0o600

    second = await maestro.apply(etc(tmp_path))
    assert second.status is Status.NOOP
    assert [r.outcome.status for r in second.results if r.outcome] == [Status.NOOP] * 3


async def test_drift_is_planned_and_repaired(tmp_path: Path) -> None:
    maestro = Maestro(LinuxHost.local(root=tmp_path))
    await maestro.apply(etc(tmp_path))
    (tmp_path / "etc/motd").write_text("tampered\n")
    plan = await maestro.plan(etc(tmp_path))
    (changed,) = [r for r in plan.results if r.changes]
    assert changed.score == "file:/etc/motd"
    assert "-tampered" in changed.changes[0].diff
    assert (await maestro.apply(etc(tmp_path))).status is Status.SUCCESS
    assert (tmp_path / "etc/motd").read_text() == "hello\n"


async def test_events_during_apply_are_ordered(tmp_path: Path) -> None:
    rec = Recorder()
    await Maestro(LinuxHost.local(root=tmp_path), on_event=rec).apply(etc(tmp_path)[:2])
    assert rec.kinds() == [
        "run_started", "topology_ready", "score_planned", "score_planned",
        "score_started", "score_finished", "score_started", "score_finished", "run_finished",
    ]  # fmt: skip


def broken_then_fine() -> list[Score[LinuxHost]]:
    return [
        ManagedFile(path=PurePosixPath("/missing-dir/a"), content="x"),
        ManagedFile(path=PurePosixPath("/b"), content="y"),
    ]


async def test_stops_at_first_failure(tmp_path: Path) -> None:
    rec = Recorder()
    report = await Maestro(LinuxHost.local(root=tmp_path), on_event=rec).apply(broken_then_fine())
    assert report.status is Status.FAILURE
    first, second = report.results
    assert first.outcome is not None and first.outcome.status is Status.FAILURE
    assert "file:/missing-dir/a: apply failed" in first.outcome.message
    assert "does not exist" in first.outcome.message
    assert second.outcome is None
    assert "score_skipped" in rec.kinds()
    assert not (tmp_path / "b").exists()
    assert report.counts == {"success": 0, "noop": 0, "failure": 1, "skipped": 1}


async def test_keep_going_applies_the_rest(tmp_path: Path) -> None:
    report = await Maestro(LinuxHost.local(root=tmp_path)).apply(broken_then_fine(), keep_going=True)
    assert report.status is Status.FAILURE
    assert report.counts == {"success": 1, "noop": 0, "failure": 1, "skipped": 0}
    assert (tmp_path / "b").read_text() == "y"


class PlanFails(Score[ManagedFiles]):
    kind: Literal["test_plan_fails"] = "test_plan_fails"

    def interpret(self) -> Interpret[ManagedFiles]:
        return PlanFailsInterpret()


class PlanFailsInterpret(Interpret[ManagedFiles]):
    async def plan(self, topology: ManagedFiles) -> Sequence[Change]:
        raise InterpretError("test_plan_fails", "read current state", "permission denied")

    async def apply(self, topology: ManagedFiles, changes: Sequence[Change]) -> Outcome:
        raise AssertionError("never applied")


async def test_a_failed_plan_applies_nothing(tmp_path: Path) -> None:
    scores: list[Score[LinuxHost]] = [ManagedFile(path=PurePosixPath("/a"), content="x"), PlanFails()]
    report = await Maestro(LinuxHost.local(root=tmp_path)).apply(scores)
    assert report.status is Status.FAILURE
    assert report.error is not None
    assert "test_plan_fails: read current state failed: permission denied" in report.error
    assert "nothing was applied" in report.error
    assert not (tmp_path / "a").exists()


async def test_a_topology_that_cannot_get_ready_fails_the_run_and_is_journaled(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    report = await Maestro(LinuxHost.local(root=tmp_path / "nope"), journal=journal).apply(etc(tmp_path))
    assert report.status is Status.FAILURE
    assert report.error is not None and "root directory" in report.error and "does not exist" in report.error
    (run,) = journal.runs()
    assert run.status is RunStatus.FAILURE
    assert run.error == report.error


class NeedsOthers(Score[ManagedFiles]):
    kind: Literal["test_needs_others"] = "test_needs_others"
    needs: tuple[str, ...]

    @property
    def name(self) -> str:
        return "needs-others"

    def depends_on(self) -> Sequence[str]:
        return self.needs

    def interpret(self) -> Interpret[ManagedFiles]:
        raise AssertionError("never planned")


async def test_dependencies_must_come_first(tmp_path: Path) -> None:
    scores: list[Score[LinuxHost]] = [
        NeedsOthers(needs=("directory:/etc",)),
        ManagedDirectory(path=PurePosixPath("/etc")),
    ]
    report = await Maestro(LinuxHost.local(root=tmp_path)).apply(scores)
    assert report.status is Status.FAILURE
    assert report.error == (
        f"{__file__}:174: needs-others depends on directory:/etc, which must come earlier in the Score list; "
        "expected it before needs-others"
    )
    assert list(tmp_path.iterdir()) == []


async def test_a_dependency_on_no_score_is_unknown_not_late(tmp_path: Path) -> None:
    scores: list[Score[LinuxHost]] = [
        NeedsOthers(needs=("directory:/ect",)),
        ManagedDirectory(path=PurePosixPath("/etc")),
    ]
    report = await Maestro(LinuxHost.local(root=tmp_path)).apply(scores)
    assert report.status is Status.FAILURE
    assert report.error is not None
    assert "depends on 'directory:/ect': unknown Score name(s); expected one of directory:/etc" in report.error


async def test_unconfirmed_apply_changes_nothing(tmp_path: Path) -> None:
    seen: list[str] = []

    async def refuse(results: Sequence[ScoreResult]) -> bool:
        seen.extend(r.score for r in results)
        return False

    report = await Maestro(LinuxHost.local(root=tmp_path)).apply(etc(tmp_path), confirm=refuse)
    assert seen == ["directory:/etc", "file:/etc/motd", "file:/etc/app.conf"]
    assert report.status is Status.FAILURE
    assert list(tmp_path.iterdir()) == []


class ContentContains(SmokeTest[ManagedFile]):
    def __init__(self, root: Path, needle: str) -> None:
        self.root = root
        self.needle = needle

    async def run(self, score: ManagedFile) -> Outcome:
        text = self.root.joinpath(*score.path.parts[1:]).read_text()
        if self.needle in text:
            return Outcome.success(f"found {self.needle!r}")
        return Outcome.failure(f"{self.needle!r} not in {score.path}", f"content: {text!r}")


@pytest.mark.parametrize(("needle", "status"), [("hello", Status.SUCCESS), ("goodbye", Status.FAILURE)])
async def test_smoke_tests_gate_the_outcome(tmp_path: Path, needle: str, status: Status) -> None:
    rec = Recorder()
    scores = etc(tmp_path)
    motd = scores[1]
    assert isinstance(motd, ManagedFile)
    report = await Maestro(LinuxHost.local(root=tmp_path), on_event=rec).apply(
        scores, smoke_tests=[verify(motd, ContentContains(tmp_path, needle))]
    )
    outcome = report.results[1].outcome
    assert outcome is not None and outcome.status is status
    assert "smoke_tested" in rec.kinds()
    if status is Status.FAILURE:
        assert "smoke test ContentContains failed" in outcome.message
        assert "content: 'hello\\n'" in outcome.details
        assert report.results[2].outcome is None, "later Scores are skipped after a failed smoke test"


async def test_journal_records_plan_spec_and_outcome(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    report = await Maestro(LinuxHost.local(root=tmp_path), journal=journal, deployment="demo").apply(etc(tmp_path))
    record = journal.run(report.run_id[:6])
    assert record is not None
    assert (record.mode, record.deployment, record.topology, record.status) == (
        "apply",
        "demo",
        "localhost",
        Status.SUCCESS,
    )
    assert [r.score for r in record.results] == ["directory:/etc", "file:/etc/motd", "file:/etc/app.conf"]
    assert '"content":"hello\\n"' in record.results[1].spec
    assert record.results[1].changes[0].action.value == "create"
    assert record.results[1].outcome is not None and record.results[1].outcome.status is Status.SUCCESS
    assert record.finished is not None and record.finished >= record.started


async def test_a_plan_made_by_the_caller_is_the_runs_plan(tmp_path: Path) -> None:
    """A device agent plans (its drift check), then applies with that plan: the Maestro does not plan again."""
    maestro = Maestro(LinuxHost.local(root=tmp_path))
    scores = etc(tmp_path)
    plan = await maestro.plan(scores)
    (tmp_path / "etc").mkdir()  # changed after the caller planned: a fresh plan would not create it
    report = await maestro.apply(scores, planned=[r.changes for r in plan.results])
    assert [c.action.value for r in report.results for c in r.changes] == ["create", "create", "create"]
    assert report.status is Status.SUCCESS
    assert (tmp_path / "etc/motd").read_text() == "hello\n"


async def test_a_callers_plan_must_have_one_entry_per_score(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"planned: 1 plans for 3 Scores"):
        await Maestro(LinuxHost.local(root=tmp_path)).apply(etc(tmp_path), planned=[[]])
    assert list(tmp_path.iterdir()) == []


async def test_a_journal_holding_outcomes_commits_a_one_score_run_twice_and_records_all_of_it(tmp_path: Path) -> None:
    # a device agent's applies: its start and plan before the change, its outcome and end after it
    journal = Journal(tmp_path / "j.sqlite3", hold_outcomes=True)
    statements: list[str] = []
    journal._db.set_trace_callback(statements.append)  # pyright: ignore[reportPrivateUsage]  # what reaches SQLite
    motd = ManagedFile(path=PurePosixPath("/etc/motd"), content="hello\n", mode=FileMode("0644"))
    (tmp_path / "etc").mkdir()
    report = await Maestro(LinuxHost.local(root=tmp_path), journal=journal).apply([motd])
    assert report.status is Status.SUCCESS
    commits = [s for s in statements if s == "COMMIT"]
    assert len(commits) == 2, statements
    before_change = statements[: statements.index("COMMIT")]
    assert any(s.startswith("INSERT INTO runs") for s in before_change)
    assert any(s.startswith("INSERT OR REPLACE INTO results") for s in before_change)
    (run,) = journal.runs()
    assert run.status is RunStatus.SUCCESS and run.finished is not None
    record = journal.run(report.run_id)
    assert record is not None and [r.outcome.status for r in record.results if r.outcome] == [Status.SUCCESS]
