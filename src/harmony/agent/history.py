"""The heartbeat and promotion history of a failover group, for post-mortems, read from the store.

Rows are ordered by the store's own revision (one total order across keys), each with the store's stamp.
Only what the store still keeps is shown: the last 64 revisions of each key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from harmony.agent.records import ClusterState, Heartbeat, events_key, heartbeat_key, stamped, state_key
from harmony.domain.capabilities.key_value import KeyValueStore


class HistoryRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    revision: int
    stored_at: datetime
    kind: Literal["state", "heartbeat", "event"]
    node: str
    summary: str


async def failover_history(store: KeyValueStore, *, cluster: str, nodes: Sequence[str]) -> list[HistoryRow]:
    rows: list[HistoryRow] = []
    for entry in await store.history(state_key(cluster)):
        s = stamped(ClusterState, entry).record
        text = f"primary={s.primary} epoch={s.epoch} sync_standby={s.sync_standby}: {s.reason}"
        rows.append(
            HistoryRow(revision=entry.revision, stored_at=entry.stored_at, kind="state", node=s.primary, summary=text)
        )
    for node in nodes:
        for entry in await store.history(heartbeat_key(cluster, node)):
            hb = stamped(Heartbeat, entry).record
            rows.append(
                HistoryRow(
                    revision=entry.revision,
                    stored_at=entry.stored_at,
                    kind="heartbeat",
                    node=node,
                    summary=f"{hb.status} seq={hb.seq}",
                )
            )
        for entry in await store.history(events_key(cluster, node)):
            event = json.loads(entry.value)
            rows.append(
                HistoryRow(
                    revision=entry.revision,
                    stored_at=entry.stored_at,
                    kind="event",
                    node=node,
                    summary=f"{event.get('action')}: {event.get('reason')}",
                )
            )
    return sorted(rows, key=lambda r: r.revision)
