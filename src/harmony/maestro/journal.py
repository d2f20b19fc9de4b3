"""The local journal: every run, its Scores, plans, outcomes, durations and errors, in SQLite.

Scores are stored as their JSON form, in which secret fields are masked by pydantic; nothing here
receives a secret in clear. The default file lives under the user's data directory; ``HARMONY_JOURNAL``
or an explicit path overrides it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import json
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict

from harmony.domain.change import Change
from harmony.domain.errors import HarmonyError
from harmony.domain.outcome import Outcome, Status

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, mode TEXT NOT NULL, deployment TEXT NOT NULL, topology TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, status TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs(id), position INTEGER NOT NULL, score TEXT NOT NULL,
    kind TEXT NOT NULL, spec TEXT NOT NULL, changes TEXT NOT NULL, outcome TEXT,
    PRIMARY KEY (run_id, position)
);
"""
# Added later: who runs it, so that a later run can tell a run left "running" by a dead process.
_RUN_OWNER_COLUMNS = (("pid", "INTEGER"), ("host", "TEXT"), ("proc_start", "TEXT"))
_BUSY_TIMEOUT_MS = 5000
_WRITE_ATTEMPTS = 2
_DEGRADED_BUSY_TIMEOUT_MS = 100  # once a record was dropped, later ones do not each hold the run up again


class RunStatus(StrEnum):
    SUCCESS = "success"
    NOOP = "noop"
    FAILURE = "failure"
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM: the run stopped itself and recorded what it applied
    ABANDONED = "abandoned"  # left "running" by a process that no longer exists (SIGKILL, power loss)


class JournalError(HarmonyError):
    """The journal cannot be opened or read (corrupt, unreadable, not a file)."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"journal {path}: {problem}; move it aside (or point --journal / HARMONY_JOURNAL at another file) "
            "and run again"
        )


def default_journal_path() -> Path:
    env = os.environ.get("HARMONY_JOURNAL")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("harmony")) / "journal.sqlite3"


class ScoreRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    position: int
    score: str
    kind: str
    spec: str
    changes: tuple[Change, ...]
    outcome: Outcome | None


class RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    mode: str
    deployment: str
    topology: str
    started: float
    finished: float | None
    status: RunStatus | None
    error: str | None
    results: tuple[ScoreRecord, ...] = ()


class Journal:
    """An append-mostly record of runs. One connection; plans and unchanged outcomes are held back and
    written together (``flush``) before anything changes and at the end, everything else at once.

    The journal never decides a run: a write that still fails after waiting for other writers and a few
    retries is dropped and remembered in ``problems`` (the caller says the journal is incomplete), and the
    run goes on. Opening or reading a journal that is not one is a ``JournalError``. The file is 0600 in a
    0700 directory when Harmony creates them: it holds plans, whose diffs show managed files' contents.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        busy_timeout: float = _BUSY_TIMEOUT_MS / 1000,
        lean: bool = False,
        hold_outcomes: bool = False,
    ) -> None:
        """``busy_timeout``: how long one write waits for another process's write before it is retried.
        ``lean``: SQLite keeps no page cache and no prepared statements between statements (~115 KiB less per
        connection; the OS caches the file, and preparing a statement again costs microseconds): for a
        long-lived writer of a few records at a time, such as a device agent.
        ``hold_outcomes``: a run's start and every outcome are held back too, so a run that changes something
        is two commits (its start and plans before the change, its outcomes and end after it) instead of one
        more per outcome: for runs of one Score, such as a device agent's applies. Not kept: a process killed
        after a Score changed something and before the next flush leaves that outcome out (the run is marked
        abandoned, its plan on record)."""
        self.path = path or default_journal_path()
        self.problems: list[str] = []
        self._held: list[tuple[str, tuple[object, ...]]] = []
        self._hold_outcomes = hold_outcomes
        self._swept = False
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if "\0" in str(self.path):
                raise ValueError("the path contains a NUL byte")
            if self.path.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a directory")
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.close(fd)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=busy_timeout, cached_statements=0 if lean else 128
            )
        except (OSError, ValueError, sqlite3.Error) as e:
            raise JournalError(self.path, _why(e)) from e
        try:
            if lean:  # before the first read: SQLite sizes its page cache's first allocation then
                self._db.execute("PRAGMA cache_size=0")
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: no fsync per record (it cost ~3 s per 1,000 Scores); a crash of the process loses
            # nothing, a power loss may lose the last records but never corrupts the journal.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            for column, kind in _RUN_OWNER_COLUMNS:
                if column not in have:
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        except sqlite3.Error as e:
            self._db.close()
            raise JournalError(self.path, _why(e)) from e

    def close(self) -> None:
        self._db.close()

    def _write(self, what: str, sql: str, params: tuple[object, ...]) -> None:
        self._write_all(what, [(sql, params)])

    def _write_all(self, what: str, statements: Sequence[tuple[str, tuple[object, ...]]]) -> None:
        """``statements`` in one transaction (a commit per record cost more than the records on 1,000 Scores)."""
        if not statements:
            return
        attempts = 1 if self.problems else _WRITE_ATTEMPTS
        for attempt in range(attempts):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                # a run of one statement (the plans, the unchanged outcomes) goes in one call
                for sql, same in itertools.groupby(statements, key=lambda s: s[0]):
                    self._db.executemany(sql, [_storable(params) for _, params in same])
                self._db.execute("COMMIT")
                return
            except sqlite3.Error as e:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                busy = isinstance(e, sqlite3.OperationalError) and ("locked" in str(e) or "busy" in str(e))
                if busy and attempt + 1 < attempts:
                    continue
                self._drop(what, e)
                return

    def flush(self) -> None:
        """Write the records held back (plans, unchanged outcomes): before a Score changes anything, and at
        the end of a run, so the journal is exact wherever the target was touched."""
        held, self._held = self._held, []
        self._write_all(f"{len(held)} record(s)", held)

    def _drop(self, what: str, e: sqlite3.Error) -> None:
        if not self.problems:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute(f"PRAGMA busy_timeout={_DEGRADED_BUSY_TIMEOUT_MS}")
        self.problems.append(f"{what}: {_why(e)}")

    def start_run(self, run_id: str, *, mode: str, deployment: str, topology: str) -> None:
        if not self._swept:  # once per process: a run on 100 hosts starts 100 runs, each saw the 99 others
            self._swept = True
            self.mark_abandoned()
        start = (
            "INSERT INTO runs (id, mode, deployment, topology, started, pid, host, proc_start) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, mode, deployment, topology, time.time(), os.getpid(), socket.gethostname(), _own_start()),
        )
        if self._hold_outcomes:
            self._held.append(start)  # written with the plans, before anything changes
        else:
            self._write(f"start of run {run_id}", *start)

    def record_plan(
        self, run_id: str, position: int, *, score: str, kind: str, spec: str, changes: Sequence[Change]
    ) -> None:
        self._held.append(
            (
                "INSERT OR REPLACE INTO results (run_id, position, score, kind, spec, changes) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, position, score, kind, spec, json.dumps([c.model_dump(mode="json") for c in changes])),
            )
        )

    def record_outcome(self, run_id: str, position: int, outcome: Outcome) -> None:
        """Held back while unchanged (``flush`` writes it); any other outcome is written at once (unless
        ``hold_outcomes``)."""
        self._held.append(
            (
                "UPDATE results SET outcome = ? WHERE run_id = ? AND position = ?",
                (outcome.model_dump_json(), run_id, position),
            )
        )
        if outcome.status is not Status.NOOP and not self._hold_outcomes:
            self.flush()

    def finish_run(self, run_id: str, status: Status, error: str | None = None, *, interrupted: bool = False) -> None:
        """The records held back and the run's end, in one transaction."""
        self._held.append(
            (
                "UPDATE runs SET finished = ?, status = ?, error = ? WHERE id = ?",
                (time.time(), RunStatus.INTERRUPTED.value if interrupted else status.value, error, run_id),
            )
        )
        self.flush()

    def mark_abandoned(self) -> list[str]:
        """Mark runs this host left ``running`` whose process is gone (pid and start time, so a reused pid
        is not mistaken for the run); returns their ids."""
        try:
            rows = self._db.execute(
                "SELECT id, pid, proc_start FROM runs WHERE finished IS NULL AND host = ?", (socket.gethostname(),)
            ).fetchall()
        except sqlite3.Error as e:
            self.problems.append(f"looking for abandoned runs: {_why(e)}")
            return []
        gone = [rid for rid, pid, start in rows if pid is not None and not _same_process(pid, start)]
        for rid in gone:
            self._write(
                f"abandoned run {rid}",
                "UPDATE runs SET finished = ?, status = ?, error = ? WHERE id = ? AND finished IS NULL",
                (time.time(), RunStatus.ABANDONED.value, "its process ended without finishing the run", rid),
            )
        return gone

    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, _storable(params)).fetchall()
        except sqlite3.Error as e:
            raise JournalError(self.path, _why(e)) from e

    def runs(self, limit: int = 20) -> list[RunRecord]:
        rows = self._read(
            "SELECT id, mode, deployment, topology, started, finished, status, error FROM runs "
            "ORDER BY started DESC LIMIT ?",
            (limit,),
        )
        return [_run(r) for r in rows]

    def run(self, run_id: str) -> RunRecord | None:
        """One run with its results; ``run_id`` may be a unique prefix."""
        escaped = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._read(
            "SELECT id, mode, deployment, topology, started, finished, status, error FROM runs "
            "WHERE id LIKE ? ESCAPE '\\'",
            (escaped + "%",),
        )
        if len(rows) != 1:
            return None
        results = self._read(
            "SELECT position, score, kind, spec, changes, outcome FROM results WHERE run_id = ? ORDER BY position",
            (rows[0][0],),
        )
        return _run(rows[0]).model_copy(update={"results": tuple(_result(r) for r in results)})


def _storable(params: tuple[object, ...]) -> tuple[object, ...]:
    """Text from outside (an undecodable argument or path) may hold lone surrogates SQLite cannot take."""
    return tuple(p.encode("utf-8", "backslashreplace").decode() if isinstance(p, str) else p for p in params)


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower()
    text = str(e)
    if isinstance(e, sqlite3.DatabaseError) and "not a database" in text:
        return "not a journal (the file is not an SQLite database, or it is corrupt)"
    return text or type(e).__name__


@functools.cache
def _own_start() -> str | None:
    return _proc_start()


def _proc_start(pid: int | None = None) -> str | None:
    """The kernel's start time of ``pid`` (boot id + clock ticks since boot): unique across pid reuse."""
    try:
        stat = Path(f"/proc/{pid or os.getpid()}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    return f"{boot}:{stat.rsplit(')', 1)[-1].split()[19]}"


def _same_process(pid: int, start: str | None) -> bool:
    now = _own_start() if pid == os.getpid() else _proc_start(pid)
    if now is None:
        return False
    return start is None or now == start


def _run(row: tuple[Any, ...]) -> RunRecord:
    rid, mode, deployment, topology, started, finished, status, error = row
    return RunRecord(
        id=rid,
        mode=mode,
        deployment=deployment,
        topology=topology,
        started=started,
        finished=finished,
        status=RunStatus(status) if status else None,
        error=error,
    )


def _result(row: tuple[Any, ...]) -> ScoreRecord:
    position, score, kind, spec, changes, outcome = row
    return ScoreRecord(
        position=position,
        score=score,
        kind=kind,
        spec=spec,
        changes=tuple(Change.model_validate(c) for c in json.loads(changes)),
        outcome=Outcome.model_validate_json(outcome) if outcome else None,
    )
