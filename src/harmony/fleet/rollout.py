"""Rollouts: which devices get a new version when, and when to stop. Pure functions, tested as tables.

A rollout writes the desired state wave by wave. All-at-once is one wave. Staged is a canary wave (a share
of the targets, at least one device) followed by ``waves`` equal waves. A wave is *settled* when each of its
online devices reports the new version as running (healthy) or as failed/rejected; offline devices do not
hold a wave back (they converge when they return). After each settled wave the rollout **halts** if the
failed share of the devices updated so far exceeds ``failure_threshold``. Roll forward only: a halted or
aborted rollout leaves updated devices on the new version; the fix is a new version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harmony.fleet.records import DeploymentState, Record, now

type RolloutPhase = Literal["running", "paused", "halted", "aborted", "done"]
type WaveVerdict = Literal["wait", "next", "halt"]


class Strategy(BaseModel):
    """``canary=0`` and ``waves=1``: all at once. ``failure_threshold`` is a share of updated devices (0..1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    canary: float = Field(default=0.0, ge=0.0, le=1.0, description="share of targets in the first wave (0: none)")
    waves: int = Field(default=1, ge=1, description="waves after the canary")
    failure_threshold: float = Field(default=0.0, ge=0.0, le=1.0, description="halt above this failed share")
    wave_timeout: float = Field(default=300.0, gt=0, description="seconds before unsettled devices count as failed")


ALL_AT_ONCE = Strategy()


class WaveStart(BaseModel):
    """Who released wave ``wave`` (1-based): written in the same compare-and-set that moves ``next_wave``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wave: int
    by: str


class Rollout(Record):
    """One rollout of one version of a deployment; the record the driver and pause/resume/abort share."""

    deployment: str
    version: str
    desired: str = Field(description="the Score's JSON, written as is to each device's desired-state key")
    selector: dict[str, str]
    strategy: Strategy
    waves: tuple[tuple[str, ...], ...]
    next_wave: int = 0
    phase: RolloutPhase = "running"
    reason: str = ""
    started_at: datetime = Field(default_factory=now)
    starts: tuple[WaveStart, ...] = Field(default=(), description="one entry per released wave, in order")

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(d for wave in self.waves for d in wave)

    @property
    def released(self) -> tuple[str, ...]:
        """Devices whose desired state already names this version."""
        return tuple(d for wave in self.waves[: self.next_wave] for d in wave)


def plan_waves(devices: Sequence[str], strategy: Strategy) -> tuple[tuple[str, ...], ...]:
    """Split ``devices`` (in the given order) into the canary wave and ``strategy.waves`` others."""
    if not devices:
        return ()
    rest = list(devices)
    waves: list[tuple[str, ...]] = []
    if strategy.canary > 0:
        size = max(1, math.ceil(len(rest) * strategy.canary))
        waves.append(tuple(rest[:size]))
        rest = rest[size:]
    count = min(strategy.waves, len(rest))
    for i in range(count):
        size = math.ceil(len(rest) / (count - i))
        waves.append(tuple(rest[:size]))
        rest = rest[size:]
    return tuple(waves)


def matches(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    """Every ``key=value`` of the selector is among the labels (an empty selector matches all)."""
    return all(labels.get(k) == v for k, v in selector.items())


def waiting_for(
    rollout: Rollout,
    states: Mapping[str, DeploymentState],
    online: Mapping[str, bool],
    *,
    among: Sequence[str] | None = None,
) -> list[str]:
    """The online devices of the last released wave (or of ``among``) not settled on this version yet."""
    wave = among if among is not None else rollout.waves[rollout.next_wave - 1] if rollout.next_wave else ()
    # settled first: a look while thousands report asks whether each is online only for those not settled yet
    return [d for d in wave if _settled(states.get(d), rollout.version) is None and online.get(d, False)]


def wave_verdict(
    rollout: Rollout,
    states: Mapping[str, DeploymentState],
    online: Mapping[str, bool],
    *,
    waited: float,
) -> tuple[WaveVerdict, str]:
    """Whether the last released wave is settled and the rollout may go on: (verdict, why in one line)."""
    unsettled = set(waiting_for(rollout, states, online))
    if unsettled and waited < rollout.strategy.wave_timeout:
        return "wait", f"waiting for {len(unsettled)} device(s) of wave {rollout.next_wave}"
    released = rollout.released
    failed = [d for d in released if _settled(states.get(d), rollout.version) is False or d in unsettled]
    updated = [d for d in released if _settled(states.get(d), rollout.version) is not None or d in unsettled]
    share = len(failed) / len(updated) if updated else 0.0
    if failed and share > rollout.strategy.failure_threshold:
        names = ", ".join(sorted(failed)[:5])
        return "halt", (
            f"{len(failed)} of {len(updated)} updated device(s) failed ({share:.0%} > "
            f"{rollout.strategy.failure_threshold:.0%}): {names}"
        )
    return "next", f"wave {rollout.next_wave} settled: {len(updated) - len(failed)} healthy, {len(failed)} failed"


def _settled(state: DeploymentState | None, version: str) -> bool | None:
    """True healthy, False failed, None not (yet) on this version."""
    if state is None or state.version != version:
        return None
    if state.phase == "running":
        return True
    if state.phase in ("failed", "rejected"):
        return False
    return None
