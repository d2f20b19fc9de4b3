"""What the agents write to the shared bucket, and under which keys.

    <cluster>.state           ClusterState: who is primary (compare-and-set only), its endpoint, its sync standby
    <cluster>.hb.<node>       Heartbeat: written by each agent every tick, kept 64 revisions deep, never expired
    <cluster>.events.<node>   Decision: every decision that acted, for post-mortems

Times are never in the records: the store stamps every revision, and those stamps are what agents compare.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmony.domain.capabilities.key_value import Entry
from harmony.domain.capabilities.postgres import ServerEndpoint

type NodeStatus = Literal["serving", "streaming", "standby", "fenced", "stopped", "absent", "unhealthy"]


class Heartbeat(BaseModel):
    """One agent's view of itself at one tick. ``serving``: a primary accepting writes.

    ``last_serving`` relays the store's stamp on this node's newest ``serving`` heartbeat, so a replica
    that missed it (it reads once per tick) still measures staleness from the right moment.
    """

    model_config = ConfigDict(frozen=True)

    node: str
    status: NodeStatus
    seq: int
    endpoint: ServerEndpoint
    last_serving: datetime | None = None


class ClusterState(BaseModel):
    """The single source of truth on leadership; changed only by compare-and-set on its revision.

    ``sync_standby`` names the standby that confirms every commit of ``primary``; only it may promote.
    """

    model_config = ConfigDict(frozen=True)

    primary: str
    epoch: int
    endpoint: ServerEndpoint
    sync_standby: str | None = None
    reason: str = ""


class Stamped[R: BaseModel](BaseModel):
    """A record as read from the store, with the store's revision and timestamp."""

    model_config = ConfigDict(frozen=True)

    record: R
    revision: int
    stored_at: datetime


def state_key(cluster: str) -> str:
    return f"{cluster}.state"


def heartbeat_key(cluster: str, node: str) -> str:
    return f"{cluster}.hb.{node}"


def events_key(cluster: str, node: str) -> str:
    return f"{cluster}.events.{node}"


def stamped[R: BaseModel](model: type[R], entry: Entry) -> Stamped[R]:
    return Stamped[R](record=model.model_validate_json(entry.value), revision=entry.revision, stored_at=entry.stored_at)
