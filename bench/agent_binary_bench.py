"""The agent as one executable: size, build time, and start to first heartbeat vs the venv's ``harmony``.

    .venv/bin/python bench/agent_binary_bench.py [--runs 5] [--force-build]

What runs: one nats-server (JetStream, the fleet's per-device users); the device agent
(``fleet agent --heartbeat 0.5``) started ``--runs`` times each way:
- ``harmony-agent`` (PyInstaller one-file) with ``env -i`` in a mount namespace where every Python of this
  machine is hidden (the same wrapper as ``tests/fleet/test_agent_binary.py``);
- ``.venv/bin/harmony`` (the interpreter and the installed wheels of this machine), the floor to compare with.
Measured from the process start (fork) until the device's first heartbeat is seen by a KV watch of the
control side. A one-file executable unpacks itself into a temp dir on every start: that is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.fixtures.agent_binary import without_python  # noqa: E402
from tests.fixtures.nats_fleet import bus_options  # noqa: E402

from harmony.fleet.control import FleetControl  # noqa: E402
from harmony.fleet.credentials import FleetHome  # noqa: E402
from harmony.infra.nats import FleetNatsServer  # noqa: E402
from harmony.infra.pyinstaller import build_agent  # noqa: E402
from harmony.infra.state_files import write_atomic  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- agent-binary-bench:start -->", "<!-- agent-binary-bench:end -->"


async def first_beat(control: FleetControl, device: str, argv: list[str], log: Path) -> float:
    view = await control.live_view()
    view.beats.pop(device, None)
    with log.open("ab") as out:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - starting is instant
        try:
            while device not in view.beats:
                if proc.poll() is not None:
                    raise RuntimeError(f"the agent exited with {proc.returncode}; see {log}")
                await asyncio.sleep(0.01)
            return time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait(timeout=30)


async def run(runs: int, force_build: bool) -> str:
    built = build_agent(force=force_build)
    with tempfile.TemporaryDirectory(prefix="agent-binary-bench-") as tmp:
        t = Path(tmp)
        home = FleetHome(t / "fleet")
        home.init(servers=["nats://127.0.0.1:0"])
        (t / "nats").mkdir()
        server = FleetNatsServer(store_dir=t / "nats" / "store", auth_file=home.auth_file)
        await server.start()
        control = await FleetControl.connect(bus_options(home.control(), [server.url]), offline_after=3.0)
        try:
            times: dict[str, list[float]] = {"binary": [], "venv": []}
            for way in times:
                device = f"bench-{way}"
                identity = home.add_device(device)
                await server.reload()
                await control.register(device, {})
                cred = t / way / "credentials.json"
                text = identity.model_copy(update={"servers": (server.url,)}).file_json()
                write_atomic(cred, text, mode=0o600, directory_mode=0o700)
                args = ["fleet", "agent", "--credentials", str(cred), "--store", str(t / way / "store")]
                args += ["--heartbeat", "0.5"]
                if way == "binary":
                    argv = without_python([str(built.path), *args], empty_dir=t / "empty")
                else:
                    argv = [str(Path(sys.executable).parent / "harmony"), *args]
                for _ in range(runs):
                    times[way].append(await first_beat(control, device, argv, t / f"{way}.log"))
        finally:
            await control.close()
            await server.stop()
    b, v = statistics.median(times["binary"]), statistics.median(times["venv"])
    build = "from the cache" if built.cached else f"{built.build_seconds:.0f} s"
    rows = [
        "| what | one-file `harmony-agent`, no Python visible | `.venv/bin/harmony` | ratio |",
        "|---|---|---|---|",
        f"| size | {built.size / 1e6:.1f} MB (one file) | venv of the whole project | |",
        f"| start → first heartbeat, median of {runs} | {b:.2f} s [{min(times['binary']):.2f}–"
        f"{max(times['binary']):.2f}] | {v:.2f} s [{min(times['venv']):.2f}–{max(times['venv']):.2f}] | "
        f"{b / v:.2f}× |",
        f"| build (PyInstaller one-file, this run) | {build} | | |",
    ]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--force-build", action="store_true", help="rebuild even if cached (measures the build)")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    table = asyncio.run(run(args.runs, args.force_build))
    print(table)
    if not args.no_doc:
        write_section(table, args.runs)


def write_section(table: str, runs: int) -> None:
    stamp = time.strftime("%Y-%m-%d")
    body = (
        f"{START}\n_Measured {stamp} on this project's 2-core machine shared with other sessions' work, "
        f"{runs} starts each way. Rerun: `.venv/bin/python bench/agent_binary_bench.py --force-build`._\n\n"
        f"{table}\n{END}"
    )
    text = DOC.read_text()
    if START in text:
        head, rest = text.split(START, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text += f"\n## The agent as one executable: size, build, start to first heartbeat\n\n{body}\n"
    DOC.write_text(text)


if __name__ == "__main__":
    main()
