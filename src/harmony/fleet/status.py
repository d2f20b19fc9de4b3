"""Status of a deployment across the fleet: a pure aggregation of what devices reported.

Per device (with the agent release it runs, when known): ``healthy`` (new version running), ``failed`` (new
version failed or was rejected), ``offline`` (no heartbeat for ``offline_after`` seconds; takes precedence),
``updating`` (released, not reported yet) and ``pending`` (not released yet). Counts: targeted, updated
(reported the new version, healthy or failed), healthy, failed, offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmony.fleet.records import DeploymentState, Heartbeat
from harmony.fleet.rollout import Rollout, RolloutPhase

type DeviceVerdict = Literal["healthy", "failed", "offline", "updating", "pending"]


class DeviceStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    device: str
    verdict: DeviceVerdict
    version: str | None
    phase: str | None
    message: str
    agent: str | None = None
    """The agent release the device runs (``installed``: the build it was enrolled with); None: not known."""


class DeploymentStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    version: str
    phase: RolloutPhase
    reason: str
    wave: int
    waves: int
    targeted: int
    updated: int
    healthy: int
    failed: int
    offline: int
    devices: tuple[DeviceStatus, ...]


def is_online(beat: Heartbeat | None, at: datetime | None, *, now: datetime, offline_after: float) -> bool:
    """Online when the last heartbeat was stored less than ``offline_after`` seconds ago (server time)."""
    return beat is not None and at is not None and (now - at).total_seconds() < offline_after


def aggregate(
    rollout: Rollout,
    states: Mapping[str, DeploymentState],
    online: Mapping[str, bool],
    *,
    agents: Mapping[str, str] | None = None,
) -> DeploymentStatus:
    """``agents``: each device's agent release (``DeviceInfo.release``, empty for the installed build)."""
    released = set(rollout.released)
    rows: list[DeviceStatus] = []
    for device in rollout.targets:
        state = states.get(device)
        current = state is not None and state.version == rollout.version
        verdict: DeviceVerdict
        if not online.get(device, False):
            verdict = "offline"
        elif current and state is not None and state.phase == "running":
            verdict = "healthy"
        elif current and state is not None and state.phase in ("failed", "rejected"):
            verdict = "failed"
        else:
            verdict = "updating" if device in released else "pending"
        rows.append(
            DeviceStatus(
                device=device,
                verdict=verdict,
                version=state.version if state else None,
                phase=state.phase if state else None,
                message=state.message if state else "",
                agent=None if agents is None or device not in agents else agents[device] or "installed",
            )
        )
    updated = [r for r in rows if r.version == rollout.version and r.phase in ("running", "failed", "rejected")]
    return DeploymentStatus(
        deployment=rollout.deployment,
        version=rollout.version,
        phase=rollout.phase,
        reason=rollout.reason,
        wave=rollout.next_wave,
        waves=len(rollout.waves),
        targeted=len(rows),
        updated=len(updated),
        healthy=sum(r.verdict == "healthy" for r in rows),
        failed=sum(r.phase in ("failed", "rejected") and r.version == rollout.version for r in rows),
        offline=sum(r.verdict == "offline" for r in rows),
        devices=tuple(rows),
    )
