"""``Heartbeat``: the one sign of life every agent role writes, each under its own key.

    failover member   <cluster>.hb.<node> in the failover bucket, every tick (kept 64 revisions deep)
    fleet device      <device> in ``fleet_heartbeat``, every ``heartbeat_interval`` (a few dozen bytes)

Always present: ``seq`` (a counter; a failover member restores it across restarts), ``t`` (the agent's own
clock, for people: agents compare the store's stamps, never each other's clocks), and the task supervisor's
report (``crashes`` so far, ``down``: the tasks waiting to restart after a crash). A failover member adds
``node``, ``status``, ``endpoint`` and ``last_serving``; a fleet device adds ``ok``/``bad`` (its healthy and
unhealthy deployments). Fields of a role that is off stay at their defaults and are left off the wire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict

from harmony.domain.capabilities.postgres import ServerEndpoint

type NodeStatus = Literal["serving", "streaming", "standby", "fenced", "stopped", "absent", "unhealthy"]


class Heartbeat(BaseModel):
    """One agent's view of itself at one beat. ``status="serving"``: a failover primary accepting writes.

    ``last_serving`` relays the store's stamp on this node's newest ``serving`` heartbeat, so a replica
    that missed it (it reads once per tick) still measures staleness from the right moment.
    """

    model_config = ConfigDict(frozen=True)

    seq: int
    t: float = 0.0
    crashes: int = 0
    down: tuple[str, ...] = ()
    # failover member
    node: str | None = None
    status: NodeStatus | None = None
    endpoint: ServerEndpoint | None = None
    last_serving: datetime | None = None
    # fleet device
    ok: int = 0
    bad: int = 0

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_defaults=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.model_validate_json(data)
