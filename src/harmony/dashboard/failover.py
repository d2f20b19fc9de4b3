"""Failover groups as the dashboard shows them, read from the failover agents' bucket.

Clusters are found by their ``<cluster>.state`` keys and nodes by their ``<cluster>.hb.<node>`` keys; the
history is ``harmony failover history``'s own (``harmony.agent.history``), in the store's order. Read at
most once a second, however many pages ask.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from harmony.agent.history import HistoryRow, failover_history
from harmony.agent.records import ClusterState, Heartbeat
from harmony.domain.capabilities.key_value import KeyValueStore
from harmony.domain.errors import KeyValueError
from harmony.infra.nats import NatsConnection

HISTORY_ROWS = 30


@dataclass(frozen=True)
class NodeRow:
    node: str
    status: str
    seq: int
    stored_at: datetime


@dataclass(frozen=True)
class ClusterRow:
    cluster: str
    primary: str
    epoch: int
    sync_standby: str | None
    reason: str
    nodes: tuple[NodeRow, ...]
    history: tuple[HistoryRow, ...]


@dataclass(frozen=True)
class FailoverPage:
    bucket: str
    clusters: tuple[ClusterRow, ...]
    problem: str = ""


class FailoverSource:
    def __init__(
        self,
        bucket: str,
        *,
        bus: Callable[[], NatsConnection | None],
        open_store: Callable[[], Awaitable[KeyValueStore]],
    ) -> None:
        self.bucket = bucket
        self._bus = bus
        self._open_store = open_store
        self._store: KeyValueStore | None = None
        self._cached: tuple[float, FailoverPage] | None = None

    async def page(self) -> FailoverPage:
        if self._cached is not None and time.monotonic() - self._cached[0] < 1.0:
            return self._cached[1]
        try:
            found = await self._read()
        except KeyValueError as e:
            self._store = None
            found = FailoverPage(self.bucket, (), f"cannot read the failover bucket {self.bucket!r}: {e}")
        self._cached = (time.monotonic(), found)
        return found

    async def _read(self) -> FailoverPage:
        bus = self._bus()
        if bus is None or not bus.connected:
            return FailoverPage(self.bucket, (), "NATS is unreachable")
        states = await bus.bucket(self.bucket).snapshot("*.state")
        beats = await bus.bucket(self.bucket).snapshot("*.hb.*")
        if self._store is None:
            self._store = await self._open_store()
        rows: list[ClusterRow] = []
        for key, update in sorted(states.items()):
            cluster = key.removesuffix(".state")
            state = ClusterState.model_validate_json(update.value or b"")
            nodes: list[NodeRow] = []
            for beat_key, beat in sorted(beats.items()):
                name, _, node = beat_key.partition(".hb.")
                if name == cluster:
                    hb = Heartbeat.model_validate_json(beat.value or b"")
                    nodes.append(NodeRow(node=node, status=hb.status or "absent", seq=hb.seq, stored_at=beat.stored_at))
            history = await failover_history(self._store, cluster=cluster, nodes=[n.node for n in nodes])
            rows.append(
                ClusterRow(
                    cluster=cluster, primary=state.primary, epoch=state.epoch, sync_standby=state.sync_standby,
                    reason=state.reason, nodes=tuple(nodes), history=tuple(reversed(history[-HISTORY_ROWS:])),
                )
            )  # fmt: skip
        return FailoverPage(self.bucket, tuple(rows))
