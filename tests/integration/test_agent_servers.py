"""A server list: the agent connects through the servers it is given and, when the server it uses dies,
reconnects through the others (a real 3-node NATS cluster, the bucket at 3 replicas)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from harmony.agent.config import AgentConfig, NatsConfig, PostgresConfig, to_toml
from harmony.domain.errors import KeyValueError
from harmony.infra.nats import EmbeddedNats, NatsKeyValue, NatsOptions
from tests.fixtures.ports import free_port

HARMONY = str(Path(sys.executable).parent / "harmony")


async def test_the_store_reconnects_through_the_server_list(nats_cluster: list[EmbeddedNats]) -> None:
    store = await NatsKeyValue.connect(
        NatsOptions(servers=[n.url for n in nats_cluster], timeout=1.0, reconnect_cap=0.5), bucket="list", replicas=3
    )
    try:
        await store.put("before", b"1")
        first = store.connected_server
        assert first is not None
        await next(n for n in nats_cluster if n.url.endswith(first)).kill()
        deadline = asyncio.get_running_loop().time() + 30
        while True:  # readiness poll: the first puts fail while the client reconnects
            try:
                await store.put("after", b"2")
                break
            except KeyValueError:
                assert asyncio.get_running_loop().time() < deadline, "no reconnect to another server of the list"
                await asyncio.sleep(0.2)
        assert store.connected_server not in (None, first)
        entry = await store.get("before")
        assert entry is not None and entry.value == b"1"
    finally:
        await store.close()


def agent_peer_port(pid: int, ports: set[int]) -> int | None:
    """The NATS client port the process ``pid`` is connected to (from the kernel's socket table)."""
    out = subprocess.run(["ss", "-Htnp", "state", "established"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if f"pid={pid}," in line:
            peer = line.split()[3]  # Recv-Q Send-Q Local Peer Process
            port = int(peer.rsplit(":", 1)[1])
            if port in ports:
                return port
    return None


def status(path: Path) -> dict[str, object]:
    out = subprocess.run([HARMONY, "agent", "status", "--config", str(path), "--json"], capture_output=True, text=True)
    return json.loads(out.stdout)["status"] if out.returncode == 0 else {}


def wait_heartbeating(path: Path, after: float) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s = status(path)
        updated = s.get("updated")
        if s.get("nats_ok") is True and isinstance(updated, float) and updated > after:
            return
        time.sleep(0.2)
    raise AssertionError(f"no heartbeat accepted by NATS after {after}: {status(path)}")


async def test_agent_with_a_server_list_survives_losing_its_server(
    tmp_path: Path, nats_cluster: list[EmbeddedNats]
) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"  # nothing listens: the list is worked through
    cfg = AgentConfig(
        node_id="solo",
        cluster="list",
        initial_role="replica",
        peers=("other",),
        state_dir=tmp_path / "state",
        nats=NatsConfig(servers=(dead, *(n.url for n in nats_cluster)), replicas=3),
        postgres=PostgresConfig(data_dir=tmp_path / "nodata", port=free_port()),
    )
    path = tmp_path / "agent.toml"
    path.write_text(to_toml(cfg))
    log = (tmp_path / "agent.log").open("wb")
    proc = await asyncio.create_subprocess_exec(HARMONY, "agent", "run", "--config", str(path), stdout=log, stderr=log)
    try:
        await asyncio.to_thread(wait_heartbeating, path, 0.0)
        ports = {n.port for n in nats_cluster}
        used = await asyncio.to_thread(agent_peer_port, proc.pid, ports)
        assert used is not None, "the agent holds no connection to the cluster"
        await next(n for n in nats_cluster if n.port == used).kill()
        killed_at = time.time()
        await asyncio.to_thread(wait_heartbeating, path, killed_at + 1.0)
        now = await asyncio.to_thread(agent_peer_port, proc.pid, ports)
        assert now is not None and now != used
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
    assert not re.search(r"Traceback", (tmp_path / "agent.log").read_text())
