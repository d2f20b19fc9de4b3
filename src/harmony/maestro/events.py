"""What a run reports while it goes: typed events, rendered by the CLI as live progress or JSON lines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.change import Change
from harmony.domain.outcome import Outcome, Status

type Mode = Literal["plan", "apply"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunStarted(_Event):
    event: Literal["run_started"] = "run_started"
    run_id: str
    mode: Mode
    topology: str
    scores: tuple[str, ...]


class WaitingForLock(_Event):
    """Another run holds the target's run lock; this run waits for it (``holder`` as far as known)."""

    event: Literal["waiting_for_lock"] = "waiting_for_lock"
    target: str
    holder: str | None


class TopologyReady(_Event):
    event: Literal["topology_ready"] = "topology_ready"
    topology: str
    duration: float


class ScorePlanned(_Event):
    event: Literal["score_planned"] = "score_planned"
    score: str
    changes: tuple[Change, ...]


class ScoreStarted(_Event):
    event: Literal["score_started"] = "score_started"
    score: str


class SmokeTested(_Event):
    event: Literal["smoke_tested"] = "smoke_tested"
    score: str
    test: str
    outcome: Outcome


class ScoreFinished(_Event):
    event: Literal["score_finished"] = "score_finished"
    score: str
    outcome: Outcome


class ScoreSkipped(_Event):
    event: Literal["score_skipped"] = "score_skipped"
    score: str
    reason: str


class RunFinished(_Event):
    event: Literal["run_finished"] = "run_finished"
    run_id: str
    status: Status
    counts: dict[str, int]
    duration: float
    interrupted: bool = False


type Event = Annotated[
    RunStarted
    | WaitingForLock
    | TopologyReady
    | ScorePlanned
    | ScoreStarted
    | SmokeTested
    | ScoreFinished
    | ScoreSkipped
    | RunFinished,
    Field(discriminator="event"),
]
type EventSink = Callable[[Event], None]
