"""Bring the pair up with its agents and an embedded NATS, and down again (``up``/``down``/``status``).

``up`` starts the processes as children of the running event loop (their pids are in ``$ROOT/pids.json``);
``down`` stops them, agents first. ``python -m examples.pg_failover_deploy up`` runs both in the foreground.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from harmony.agent.config import AgentConfig, NatsConfig, PostgresConfig, TimingConfig, to_toml
from harmony.agent.journal import read_status
from harmony.domain.outcome import Status
from harmony.infra.nats import EmbeddedNats
from harmony.maestro import Maestro
from harmony.topology.local_postgres import LocalPostgreSQL

from . import deployment, pair, root

TIMING = TimingConfig(
    heartbeat_interval=0.2, heartbeat_timeout=0.4, failure_threshold=2, success_threshold=2, failover_timeout=2.0
)
HARMONY = Path(sys.executable).parent / "harmony"


def agent_config(server: LocalPostgreSQL, *, peer: str, primary: bool, nats_url: str) -> AgentConfig:
    inst = server.instance
    return AgentConfig(
        node_id=inst.name,
        cluster="pg-example",
        initial_role="primary" if primary else "replica",
        peers=(peer,),
        state_dir=root / inst.name / "state",
        nats=NatsConfig(servers=(nats_url,)),
        timing=TIMING,
        postgres=PostgresConfig(data_dir=inst.data_dir, port=inst.port, listen_address=inst.listen_address),
    )


async def up() -> dict[str, int]:
    """Apply the deployment, start NATS and both agents; returns the pids started."""
    root.mkdir(parents=True, exist_ok=True)
    report = await Maestro(pair).apply(list(deployment.scores))
    if report.status is Status.FAILURE:
        raise SystemExit(f"apply failed: {report.error or report.results}")
    nats = EmbeddedNats(store_dir=root / "nats" / "js")
    await nats.start()
    assert nats.process is not None
    pids = {"nats": nats.process.pid}
    sides = ((pair.primary, "b", True), (pair.replica, "a", False))
    for server, peer, primary in sides:
        config = agent_config(server, peer=peer, primary=primary, nats_url=nats.url)
        path = root / f"agent-{config.node_id}.toml"
        path.write_text(to_toml(config))
        log = (root / f"agent-{config.node_id}.log").open("ab")
        proc = await asyncio.create_subprocess_exec(
            str(HARMONY), "agent", "run", "--config", str(path),
            stdout=log, stderr=log, stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        log.close()
        pids[f"agent-{config.node_id}"] = proc.pid
    (root / "pids.json").write_text(json.dumps(pids))
    return pids


async def down() -> None:
    """SIGTERM the agents (each stops its PostgreSQL), then NATS."""
    path = root / "pids.json"
    if not path.exists():
        return
    pids: dict[str, int] = json.loads(path.read_text())
    for name in sorted(pids, key=lambda n: n == "nats"):
        await _terminate(pids[name])
    path.unlink()


async def _terminate(pid: int, timeout: float = 20) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(int(timeout / 0.05)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await asyncio.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def status() -> dict[str, object]:
    return {
        name: (s.model_dump(mode="json") if (s := read_status(root / name / "state")) else None) for name in ("a", "b")
    }
