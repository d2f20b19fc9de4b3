"""The local journal: every run, its Scores, plans, outcomes, durations and errors, in SQLite.

Scores are stored as their JSON form, in which secret fields are masked by pydantic; nothing here
receives a secret in clear. The default file lives under the user's data directory; ``HARMONY_JOURNAL``
or an explicit path overrides it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict

from harmony.domain.change import Change
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
    status: Status | None
    error: str | None
    results: tuple[ScoreRecord, ...] = ()


class Journal:
    """An append-mostly record of runs. One connection; each write is its own transaction."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_journal_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: no fsync per record (it cost ~3 s per 1,000 Scores); a crash of the process loses
        # nothing, a power loss may lose the last records but never corrupts the journal.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def start_run(self, run_id: str, *, mode: str, deployment: str, topology: str) -> None:
        self._db.execute(
            "INSERT INTO runs (id, mode, deployment, topology, started) VALUES (?, ?, ?, ?, ?)",
            (run_id, mode, deployment, topology, time.time()),
        )

    def record_plan(
        self, run_id: str, position: int, *, score: str, kind: str, spec: str, changes: Sequence[Change]
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO results (run_id, position, score, kind, spec, changes) VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, position, score, kind, spec, json.dumps([c.model_dump(mode="json") for c in changes])),
        )

    def record_outcome(self, run_id: str, position: int, outcome: Outcome) -> None:
        self._db.execute(
            "UPDATE results SET outcome = ? WHERE run_id = ? AND position = ?",
            (outcome.model_dump_json(), run_id, position),
        )

    def finish_run(self, run_id: str, status: Status, error: str | None = None) -> None:
        self._db.execute(
            "UPDATE runs SET finished = ?, status = ?, error = ? WHERE id = ?",
            (time.time(), status.value, error, run_id),
        )

    def runs(self, limit: int = 20) -> list[RunRecord]:
        rows = self._db.execute(
            "SELECT id, mode, deployment, topology, started, finished, status, error FROM runs "
            "ORDER BY started DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_run(r) for r in rows]

    def run(self, run_id: str) -> RunRecord | None:
        """One run with its results; ``run_id`` may be a unique prefix."""
        rows = self._db.execute(
            "SELECT id, mode, deployment, topology, started, finished, status, error FROM runs WHERE id LIKE ?",
            (run_id + "%",),
        ).fetchall()
        if len(rows) != 1:
            return None
        results = self._db.execute(
            "SELECT position, score, kind, spec, changes, outcome FROM results WHERE run_id = ? ORDER BY position",
            (rows[0][0],),
        ).fetchall()
        return _run(rows[0]).model_copy(update={"results": tuple(_result(r) for r in results)})


def _run(row: tuple[str, str, str, str, float, float | None, str | None, str | None]) -> RunRecord:
    rid, mode, deployment, topology, started, finished, status, error = row
    return RunRecord(
        id=rid,
        mode=mode,
        deployment=deployment,
        topology=topology,
        started=started,
        finished=finished,
        status=Status(status) if status else None,
        error=error,
    )


def _result(row: tuple[int, str, str, str, str, str | None]) -> ScoreRecord:
    position, score, kind, spec, changes, outcome = row
    return ScoreRecord(
        position=position,
        score=score,
        kind=kind,
        spec=spec,
        changes=tuple(Change.model_validate(c) for c in json.loads(changes)),
        outcome=Outcome.model_validate_json(outcome) if outcome else None,
    )
