"""What the agents write to the shared bucket, and under which keys.

    <cluster>.state           ClusterState: who is primary (compare-and-set only), its endpoint, its sync standby
    <cluster>.hb.<node>       Heartbeat (agent.heartbeat, one type for every role): written by each agent every
                              tick, kept 64 revisions deep, never expired
    <cluster>.events.<node>   Decision: every decision that acted, for post-mortems

Agents never compare times written in the records (a heartbeat's ``t`` is for people): the store stamps
every revision, and those stamps are what agents compare.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from harmony.agent.heartbeat import Heartbeat, NodeStatus
from harmony.domain.capabilities.key_value import Entry
from harmony.domain.capabilities.postgres import ServerEndpoint


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


__all__ = ["ClusterState", "Heartbeat", "NodeStatus", "Stamped", "events_key", "heartbeat_key", "stamped", "state_key"]


def state_key(cluster: str) -> str:
    return f"{cluster}.state"


def heartbeat_key(cluster: str, node: str) -> str:
    return f"{cluster}.hb.{node}"


def events_key(cluster: str, node: str) -> str:
    return f"{cluster}.events.{node}"


def stamped[R: BaseModel](model: type[R], entry: Entry) -> Stamped[R]:
    return Stamped[R](record=model.model_validate_json(entry.value), revision=entry.revision, stored_at=entry.stored_at)
