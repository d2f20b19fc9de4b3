"""The agent's local record: ``status.json`` (replaced every tick, read by ``harmony agent status``) and
``decisions.jsonl`` (every decision that acted or changed the node's status, appended).

Both live in the agent's ``state_dir``, so they are readable even when the mesh is not.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harmony.agent.decide import Decision, Memory, Snapshot, status_of
from harmony.infra.state_files import write_atomic


class AgentStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    node: str
    cluster: str
    pid: int
    updated: float
    status: str
    local_role: str
    nats_ok: bool
    primary: str | None
    epoch: int | None
    sync_standby: str | None
    fenced: bool
    last_action: str
    last_reason: str


class AgentJournal:
    def __init__(self, state_dir: Path, *, cluster: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.status_path = state_dir / "status.json"
        self.decisions_path = state_dir / "decisions.jsonl"
        self.cluster = cluster
        self._last_status: str | None = None

    def record(self, snapshot: Snapshot, decision: Decision, memory: Memory) -> None:
        """Journal a decision once acted on; ``memory`` is the agent's memory after acting."""
        state = snapshot.state.record if snapshot.state else None
        status = status_of(snapshot.local, memory)
        current = AgentStatus(
            node=snapshot.node,
            cluster=self.cluster,
            pid=os.getpid(),
            updated=time.time(),
            status=status,
            local_role=snapshot.local.role,
            nats_ok=snapshot.nats_ok,
            primary=state.primary if state else None,
            epoch=state.epoch if state else None,
            sync_standby=state.sync_standby if state else None,
            fenced=memory.fenced,
            last_action=decision.action.value,
            last_reason=decision.reason,
        )
        write_atomic(self.status_path, current.model_dump_json())
        if decision.action.value != "none" or status != self._last_status:
            line = {
                "at": current.updated,
                "store_stamp": snapshot.my_beat.stored_at.isoformat() if snapshot.my_beat else None,
                "node": snapshot.node,
                "action": decision.action.value,
                "reason": decision.reason,
                "status": status,
            }
            with self.decisions_path.open("a") as f:
                f.write(json.dumps(line) + "\n")
        self._last_status = status

    def note(self, node: str, action: str, reason: str) -> None:
        with self.decisions_path.open("a") as f:
            f.write(json.dumps({"at": time.time(), "node": node, "action": action, "reason": reason}) + "\n")


def read_status(state_dir: Path) -> AgentStatus | None:
    path = state_dir / "status.json"
    if not path.exists():
        return None
    return AgentStatus.model_validate_json(path.read_text())


def read_decisions(state_dir: Path, limit: int = 50) -> list[dict[str, object]]:
    path = state_dir / "decisions.jsonl"
    if not path.exists():
        return []
    lines = path.read_text().splitlines()[-limit:]
    return [json.loads(line) for line in lines if line.strip()]
