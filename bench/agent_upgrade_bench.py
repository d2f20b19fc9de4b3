"""Agent upgrades: publish a signed release, upgrade every device, roll a broken one back.

    .venv/bin/python bench/agent_upgrade_bench.py [--devices 3] [--no-doc]

What runs: one nats-server (JetStream, the fleet's per-device users) and ``--devices`` supervised agents on
this machine, each ``harmony-agent agent supervise`` over the one-file binary (PyInstaller, from the build
cache), as an enrolled host runs it. Measured:
- publish: sign the ~50 MB file (sha256 + ed25519) and store it in the JetStream object store;
- upgrade: from the rollout's record (all devices in one wave) until every device reported the new version
  running: each downloads the file, checks it, its supervisor swaps it and keeps it once it heartbeats;
- rollback: the same for a release that exits at once, until the rollout halted with every device rolled back;
- floor: ``kill -9`` of the agent until its next heartbeat (the supervisor's 0.5 s back-off, then the one-file
  binary's start): what any restart into a new file costs at least; median of 3.
The good release is the same build re-signed under a new version (the version is carried by the release).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.fixtures.nats_fleet import bus_options  # noqa: E402
from tests.fixtures.supervised_agent import SupervisedAgent, script, start_supervised  # noqa: E402

from harmony.fleet.agent_release import AGENT_DEPLOYMENT, PUBLIC_KEY_FILE, public_key_text, signing_key  # noqa: E402
from harmony.fleet.agent_rollout import publish_release, roll_out_release  # noqa: E402
from harmony.fleet.control import FleetControl  # noqa: E402
from harmony.fleet.credentials import FleetHome  # noqa: E402
from harmony.fleet.records import HEARTBEAT  # noqa: E402
from harmony.fleet.rollout import Strategy  # noqa: E402
from harmony.infra.nats import FleetNatsServer  # noqa: E402
from harmony.infra.pyinstaller import build_agent  # noqa: E402
from harmony.topology.agent_host import StoreHeartbeats  # noqa: E402
from results import record  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- agent-upgrade-bench:start -->", "<!-- agent-upgrade-bench:end -->"


async def first_beat(beats: StoreHeartbeats, device: str, agent: SupervisedAgent) -> float:
    """Kill the agent (its supervisor restarts it) and time until its next heartbeat."""
    mark = await beats.heartbeat_mark(device)
    (child,) = agent.children()
    started = time.monotonic()
    os.kill(child, signal.SIGKILL)
    if not await beats.wait_heartbeat(device, after=mark, timeout=120):
        raise RuntimeError(f"{device} did not come back; see {agent.log}")
    return time.monotonic() - started


async def run(devices: int) -> tuple[str, dict[str, float]]:
    built = build_agent()
    with tempfile.TemporaryDirectory(prefix="agent-upgrade-bench-") as tmp:
        t = Path(tmp)
        home = FleetHome(t / "fleet")
        home.init(servers=["nats://127.0.0.1:0"])
        (t / "nats").mkdir()
        server = FleetNatsServer(store_dir=t / "nats" / "store", auth_file=home.auth_file)
        await server.start()
        control = await FleetControl.connect(bus_options(home.control(), [server.url]), offline_after=3.0)
        names = [f"bench-{i}" for i in range(devices)]
        agents = [start_supervised(t / "hosts", home, server, n, installed=built.path) for n in names]
        try:
            key = public_key_text(signing_key(home.path))
            for agent in agents:
                (agent.dir / PUBLIC_KEY_FILE).write_text(key)
            await server.reload()
            for n in names:
                await control.register(n, {"bench": "yes"})
            beats = StoreHeartbeats(control.bus.bucket(HEARTBEAT))
            for agent in agents:
                if not await beats.wait_heartbeat(agent.device, after=0, timeout=180):
                    raise RuntimeError(f"{agent.device} never heartbeat; see {agent.log}")
            floor = statistics.median([await first_beat(beats, names[0], agents[0]) for _ in range(3)])

            started = time.monotonic()
            good = await publish_release(control, home.path, version="2.0.0", binary=built.path)
            publish = time.monotonic() - started
            started = time.monotonic()
            await roll_out_release(control, good, selector={"bench": "yes"}, strategy=Strategy(wave_timeout=300))
            done = await control.drive(AGENT_DEPLOYMENT)
            upgrade = time.monotonic() - started
            if done.phase != "done":
                raise RuntimeError(f"the upgrade did not finish: {done.phase}: {done.reason}")

            broken = script(t / "broken", "exit 1")
            bad = await publish_release(control, home.path, version="3.0.0-broken", binary=broken)
            started = time.monotonic()
            await roll_out_release(control, bad, selector={"bench": "yes"}, strategy=Strategy(wave_timeout=300))
            halted = await control.drive(AGENT_DEPLOYMENT)
            rollback = time.monotonic() - started
            if halted.phase != "halted":
                raise RuntimeError(f"the broken release was not halted: {halted.phase}: {halted.reason}")
        finally:
            for agent in agents:
                agent.stop()
            await control.close()
            await server.stop()
    size = built.size / 1e6
    rows = [
        f"| measure ({devices} supervised agents, one-file binary {size:.1f} MB) | value |",
        "|---|---|",
        f"| floor: kill -9 of the agent to its next heartbeat (0.5 s back-off + start; median of 3) | {floor:.2f} s |",
        f"| publish: sign + store in the object store | {publish:.2f} s |",
        f"| upgrade every device (download, check, swap, trial until a heartbeat) | {upgrade:.2f} s "
        f"({upgrade / floor:.1f}× the floor) |",
        f"| broken release (exits at once): every device rolled back, rollout halted | {rollback:.2f} s |",
    ]
    return "\n".join(rows) + "\n", {"floor": floor, "publish": publish, "upgrade": upgrade, "rollback": rollback}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=3)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    table, figures = asyncio.run(run(args.devices))
    print(table)
    record("agent-upgrade", f"upgrade {args.devices} devices", figures["upgrade"], "s")
    record("agent-upgrade", "upgrade / restart floor", figures["upgrade"] / figures["floor"], "x")
    record("agent-upgrade", f"roll back {args.devices} devices", figures["rollback"], "s")
    if not args.no_doc:
        write_section(table, args.devices)


def write_section(table: str, devices: int) -> None:
    stamp = time.strftime("%Y-%m-%d")
    body = (
        f"{START}\n_Measured {stamp} on this project's 2-core machine shared with other sessions' work, "
        f"{devices} devices. Rerun: `.venv/bin/python bench/agent_upgrade_bench.py --devices {devices}`._\n\n"
        f"{table}\n{END}"
    )
    text = DOC.read_text()
    if START in text:
        head, rest = text.split(START, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text += f"\n## Agent upgrades: publish, upgrade, roll back\n\n{body}\n"
    DOC.write_text(text)


if __name__ == "__main__":
    main()
