"""The journal never decides a run: a journal locked by another process is written late or not at all (and the
run says so), a journal that is not one is a one-line error, and a new journal is private (0600 in 0700)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.outcome import Status
from harmony.maestro.journal import Journal, JournalError, RunStatus
from harmony.maestro.runner import Maestro
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost


def test_a_new_journal_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "data" / "harmony" / "journal.sqlite3")
    journal.close()
    assert stat.S_IMODE((tmp_path / "data" / "harmony").stat().st_mode) == 0o700
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600


def corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a database, and it is long enough to have a header" * 20)


def directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("make", "said"), [(corrupt, "not a journal"), (directory, "is a directory")], ids=["corrupt", "directory"]
)
def test_a_journal_that_is_not_one_is_a_one_line_error_saying_what_to_do(
    tmp_path: Path, make: Callable[[Path], object], said: str
) -> None:
    path = tmp_path / "journal.sqlite3"
    make(path)
    with pytest.raises(JournalError) as error:
        Journal(path).runs()
    message = str(error.value)
    assert said in message and "move it aside" in message and "\n" not in message


async def test_a_journal_locked_by_another_process_does_not_stop_the_run(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process writing for as long as this run lasts
    journal = Journal(path, busy_timeout=0.1)
    scores = [
        ManagedDirectory(path=PurePosixPath("/etc")),
        ManagedFile(path=PurePosixPath("/etc/motd"), content="hello\n"),
    ]
    try:
        report = await Maestro(LinuxHost.local(root=tmp_path / "root", create_root=True), journal=journal).apply(scores)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert report.status is Status.SUCCESS, "every Score applied though no record could be written"
    assert (tmp_path / "root" / "etc" / "motd").read_text() == "hello\n"
    assert journal.problems and "locked" in journal.problems[0]
    journal.close()


def test_a_run_left_running_by_a_dead_process_is_abandoned_and_a_reused_pid_does_not_fool_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    journal.start_run("alive", mode="apply", deployment="d", topology="t")
    journal.start_run("dead", mode="apply", deployment="d", topology="t")
    journal.start_run("reused", mode="apply", deployment="d", topology="t")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE runs SET pid = ? WHERE id = 'dead'", (int(dead.stdout),))
    # this very pid, but started at another time: the process that started the run is gone
    db.execute("UPDATE runs SET proc_start = 'another-boot:1' WHERE id = 'reused'")
    db.close()
    assert sorted(journal.mark_abandoned()) == ["dead", "reused"]
    statuses = {r.id: r.status for r in journal.runs()}
    assert statuses == {"alive": None, "dead": RunStatus.ABANDONED, "reused": RunStatus.ABANDONED}
    journal.close()


async def test_before_a_score_changes_anything_the_plans_and_earlier_unchanged_outcomes_are_on_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchanged outcomes are held back and written together (one transaction, not one per Score); a run
    killed while a Score acts still leaves every plan and every earlier outcome in the journal."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "a.conf").write_text("a\n")
    (root / "etc" / "a.conf").chmod(0o644)
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    scores = [
        ManagedDirectory(path=PurePosixPath("/etc")),
        ManagedFile(path=PurePosixPath("/etc/a.conf"), content="a\n"),
        ManagedFile(path=PurePosixPath("/etc/b.conf"), content="b\n"),
    ]
    monkeypatch.setenv("HARMONY_PAUSE_AT", "apply:file:/etc/b.conf")  # waits there until cancelled
    run = asyncio.create_task(Maestro(LinuxHost.local(root=root), journal=journal).apply(scores))
    reader = sqlite3.connect(path, isolation_level=None)
    rows: list[tuple[str, str | None]] = []
    for _ in range(400):  # a bounded wait for the run to reach the pause point, not a timing assertion
        rows = reader.execute("SELECT score, outcome FROM results ORDER BY position").fetchall()
        if len(rows) == 3 and not run.done():
            break
        await asyncio.sleep(0.05)
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    reader.close()
    journal.close()
    assert [score for score, _ in rows] == ["directory:/etc", "file:/etc/a.conf", "file:/etc/b.conf"]
    assert [json.loads(o)["status"] if o else None for _, o in rows] == ["noop", "noop", None]
    assert not (root / "etc" / "b.conf").exists(), "the pause point comes before the Score acts"
