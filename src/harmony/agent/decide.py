"""The failover brain: one frozen ``Snapshot`` in, one ``Decision`` out. Pure: no I/O, no clock.

Time enters only as store stamps: a replica measures the primary's staleness as the store's stamp on its
own heartbeat of this tick minus the newest stamp that proves the primary alive (its last ``serving``
heartbeat, or the cluster state it wrote). A replica that lost the mesh itself restarts that clock when the
mesh returns, so a mesh outage alone never causes a failover. Counters are probe-style:
``failure_threshold`` consecutive failures to fence, ``success_threshold`` consecutive successes to
recover, so one late ack never flaps.

What the rules guarantee, given compare-and-set on the cluster state:
- a primary serves only while the cluster state names it; it fences after ``failure_threshold`` failed
  heartbeats (and the agent's watchdog fences it ``heartbeat_timeout x failure_threshold`` after its last
  good one, whatever the ticks are doing);
- a replica promotes only when it is the primary's published synchronous standby (it has every
  acknowledged commit) and the primary has been stale for more than ``failover_timeout``;
- a node the cluster state does not name never serves: it rejoins as a standby (rewind, else re-clone).
An agent starts *fenced*: it serves again only after it reclaimed the cluster state by compare-and-set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmony.agent.config import TimingConfig
from harmony.agent.records import ClusterState, Heartbeat, NodeStatus, Stamped
from harmony.domain.capabilities.postgres import ServerRole

type FenceReason = Literal["mesh", "database", "restart", "demoted"]


class LocalHealth(BaseModel):
    """The local database as checked this tick (``unreachable``: the check itself failed or timed out)."""

    model_config = ConfigDict(frozen=True)

    role: ServerRole | Literal["unreachable"]
    standby_configured: bool = False
    receiving: bool = False
    streaming_standbys: tuple[str, ...] = ()
    sync_standbys: tuple[str, ...] = ()


class Memory(BaseModel):
    """What an agent carries from one tick to the next (rebuilt from the store after a restart)."""

    model_config = ConfigDict(frozen=True)

    seq: int = 0
    failures: int = 0
    successes: int = 0
    fenced: bool = True
    fence_reason: FenceReason | None = "restart"
    alive_of: str | None = None
    primary_alive_at: datetime | None = None
    mesh_lost: bool = False
    my_last_serving: datetime | None = None


class Snapshot(BaseModel):
    """Everything one tick knows, read once."""

    model_config = ConfigDict(frozen=True)

    node: str
    initial_role: Literal["primary", "replica"]
    peers: tuple[str, ...]
    timing: TimingConfig
    local: LocalHealth
    nats_ok: bool
    my_beat: Stamped[Heartbeat] | None
    state: Stamped[ClusterState] | None
    peer_beats: Mapping[str, Stamped[Heartbeat]]
    memory: Memory


class Action(StrEnum):
    NONE = "none"
    BOOTSTRAP = "bootstrap"
    FENCE = "fence"
    RECLAIM = "reclaim"
    PROMOTE = "promote"
    FINISH_PROMOTION = "finish-promotion"
    REJOIN = "rejoin"
    START_STANDBY = "start-standby"
    REQUIRE_SYNC = "require-sync"
    PUBLISH_SYNC = "publish-sync"


class Decision(BaseModel):
    """What to do this tick and why, in one line; ``memory`` is carried to the next tick."""

    model_config = ConfigDict(frozen=True)

    action: Action
    reason: str
    memory: Memory
    peer: str | None = None
    fence_reason: FenceReason | None = None

    def line(self, node: str) -> str:
        return f"{node}: {self.action.value}: {self.reason}"


def status_of(local: LocalHealth, memory: Memory) -> NodeStatus:
    """The status an agent publishes in its heartbeat."""
    if memory.fenced and local.role in ("primary", "stopped"):
        return "fenced"
    match local.role:
        case "primary":
            return "serving"
        case "standby":
            return "streaming" if local.receiving else "standby"
        case "unreachable":
            return "unhealthy"
        case role:
            return role


def decide(s: Snapshot) -> Decision:
    mem = _remember(s)
    state = s.state
    if not s.nats_ok:
        return _mesh_lost(s, mem)
    if state is None:
        return _no_state(s, mem)
    if state.record.primary == s.node:
        return _as_primary(s, state, mem)
    return _as_replica(s, state, mem)


def _remember(s: Snapshot) -> Memory:
    """Update counters and the primary's last sign of life from this tick's observations."""
    m = s.memory
    acting_primary = s.state is None or s.state.record.primary == s.node
    ok = s.nats_ok and (s.local.role == "primary" or not acting_primary or m.fenced)
    alive_of, alive_at = m.alive_of, m.primary_alive_at
    if s.state is not None and s.state.record.primary != s.node:
        primary = s.state.record.primary
        if alive_of != primary:
            alive_of, alive_at = primary, None
        seen = [alive_at, s.state.stored_at]
        if m.mesh_lost and s.my_beat is not None:
            # While this agent could not see the mesh it could not tell a dead primary from a dead mesh: the
            # primary gets a whole failover_timeout, from now, to prove itself alive again.
            seen.append(s.my_beat.stored_at)
        beat = s.peer_beats.get(primary)
        if beat is not None:
            seen.append(beat.record.last_serving)
            if beat.record.status == "serving":
                seen.append(beat.stored_at)
        alive_at = max(t for t in seen if t is not None)
    return m.model_copy(
        update={
            "seq": m.seq + 1,
            "failures": 0 if ok else m.failures + 1,
            "successes": m.successes + 1 if s.nats_ok else 0,
            "alive_of": alive_of,
            "primary_alive_at": alive_at,
            "mesh_lost": not s.nats_ok,
            "my_last_serving": s.my_beat.stored_at
            if s.my_beat is not None and s.my_beat.record.status == "serving"
            else m.my_last_serving,
        }
    )


def primary_staleness(s: Snapshot, mem: Memory) -> float | None:
    """Seconds, by store stamps, since the primary last proved alive; ``None`` if unknown this tick."""
    if s.my_beat is None or mem.primary_alive_at is None:
        return None
    return (s.my_beat.stored_at - mem.primary_alive_at).total_seconds()


def peers_stale(s: Snapshot) -> bool:
    """True when no peer has heartbeated within ``failover_timeout`` (by store stamps): nobody can take over."""
    if s.my_beat is None:
        return False
    now = s.my_beat.stored_at
    return all(
        (b := s.peer_beats.get(p)) is None
        or b.record.status not in ("streaming", "standby")
        or (now - b.stored_at).total_seconds() > s.timing.failover_timeout
        for p in s.peers
    )


def new_primary_serves(s: Snapshot, state: Stamped[ClusterState]) -> bool:
    """The node the state names has heartbeated as serving since the state named it (rewind needs it)."""
    beat = s.peer_beats.get(state.record.primary)
    return beat is not None and beat.record.status == "serving" and beat.stored_at > state.stored_at


def _fence(mem: Memory, reason: FenceReason, text: str) -> Decision:
    fenced = mem.model_copy(update={"fenced": True, "fence_reason": reason, "successes": 0})
    return Decision(action=Action.FENCE, reason=text, memory=fenced, fence_reason=reason)


def _none(mem: Memory, text: str) -> Decision:
    return Decision(action=Action.NONE, reason=text, memory=mem)


def _mesh_lost(s: Snapshot, mem: Memory) -> Decision:
    f = s.timing.failure_threshold
    if s.local.role == "primary" and not mem.fenced:
        if mem.failures >= f:
            return _fence(mem, "mesh", f"{mem.failures} consecutive heartbeats not stored (threshold {f}); fencing")
        return _none(mem, f"heartbeat not stored ({mem.failures}/{f} before fencing)")
    return _none(mem, "mesh unreachable; nothing may change until it returns")


def _no_state(s: Snapshot, mem: Memory) -> Decision:
    if s.initial_role == "primary" and s.local.role in ("primary", "stopped"):
        return Decision(action=Action.BOOTSTRAP, reason="no cluster state yet; creating it as primary", memory=mem)
    if s.local.role == "stopped" and s.local.standby_configured:
        return Decision(action=Action.START_STANDBY, reason="no cluster state yet; starting as standby", memory=mem)
    return _none(mem, "waiting for the primary to create the cluster state")


def _as_primary(s: Snapshot, state: Stamped[ClusterState], mem: Memory) -> Decision:
    f, ok_needed = s.timing.failure_threshold, s.timing.success_threshold
    epoch = state.record.epoch
    if s.local.role == "standby" and not mem.fenced:
        return Decision(
            action=Action.FINISH_PROMOTION, reason=f"cluster state names me (epoch {epoch}); promoting", memory=mem
        )
    if mem.fenced:
        if mem.successes < ok_needed:
            return _none(mem, f"fenced ({mem.fence_reason}); {mem.successes}/{ok_needed} good heartbeats to recover")
        if mem.fence_reason == "database" and not peers_stale(s):
            return _none(mem, "fenced after a database failure; a standby is alive and will take over")
        return Decision(
            action=Action.RECLAIM,
            reason=f"fenced ({mem.fence_reason}); mesh back for {mem.successes} heartbeats and the state still "
            f"names me (epoch {epoch}); reclaiming by compare-and-set",
            memory=mem,
        )
    if s.local.role != "primary":
        if mem.failures >= f:
            return _fence(mem, "database", f"database {s.local.role} for {mem.failures} heartbeats; fencing")
        return _none(mem, f"database {s.local.role} ({mem.failures}/{f} before fencing)")
    return _keep_sync(s, state, mem)


def _keep_sync(s: Snapshot, state: Stamped[ClusterState], mem: Memory) -> Decision:
    """A serving primary: make a streaming peer synchronous, then publish it as the one that may promote."""
    for peer in s.peers:
        if peer in s.local.sync_standbys and state.record.sync_standby != peer:
            return Decision(
                action=Action.PUBLISH_SYNC, reason=f"{peer} confirms every commit; publishing it", memory=mem, peer=peer
            )
        if peer in s.local.streaming_standbys and peer not in s.local.sync_standbys and not s.local.sync_standbys:
            return Decision(
                action=Action.REQUIRE_SYNC, reason=f"{peer} streams; making it synchronous", memory=mem, peer=peer
            )
    return _none(mem, f"serving (epoch {state.record.epoch}, sync standby {state.record.sync_standby})")


def _as_replica(s: Snapshot, state: Stamped[ClusterState], mem: Memory) -> Decision:
    primary = state.record.primary
    rejoin = f"cluster state names {primary} (epoch {state.record.epoch})"
    if s.local.role in ("primary", "stopped", "absent") and not new_primary_serves(s, state):
        if s.local.role == "primary" and not mem.fenced:
            return _fence(mem, "demoted", f"{rejoin}; fencing until it serves, then rejoining")
        return _none(mem, f"{rejoin}; waiting for it to serve before rejoining")
    if s.local.role == "primary":
        return Decision(action=Action.REJOIN, reason=f"{rejoin}; demoting and rejoining as its standby", memory=mem)
    if s.local.role in ("stopped", "absent"):
        if s.local.role == "stopped" and s.local.standby_configured:
            return Decision(action=Action.START_STANDBY, reason=f"{rejoin}; starting as its standby", memory=mem)
        return Decision(action=Action.REJOIN, reason=f"{rejoin}; rewinding or re-cloning from it", memory=mem)
    if s.local.role == "unreachable":
        return _none(mem, "local database check failed; not eligible to promote")
    mem = mem.model_copy(update={"fenced": False, "fence_reason": None})
    stale = primary_staleness(s, mem)
    timeout = s.timing.failover_timeout
    if stale is None or stale <= timeout:
        seen = "unknown" if stale is None else f"{stale:.2f}s ago"
        return _none(mem, f"following {primary}, last alive {seen}")
    if state.record.sync_standby != s.node:
        return _none(mem, f"{primary} stale for {stale:.2f}s, but I am not its synchronous standby")
    return Decision(
        action=Action.PROMOTE,
        reason=f"{primary} stale for {stale:.2f}s > failover_timeout {timeout}s; promoting by compare-and-set "
        f"on revision {state.revision}",
        memory=mem,
    )
