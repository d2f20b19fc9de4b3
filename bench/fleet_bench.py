"""Fleet scale benchmark: N real device agents against one nats-server, vs the raw nats-py floor.

    .venv/bin/python bench/fleet_bench.py --devices 1000 --workers 4

What runs: one nats-server (JetStream, the fleet's generated per-device users), the control side in this
process, and ``--workers`` processes each running its share of ``DeviceAgent``s (the real agent code, one NATS
connection per device) on ``NoContainerRuntimeForBench`` — a bench-only runtime that keeps containers in a
dict and does no container work. Measured:
- rollout convergence: ``deploy`` (all at once) until every device reports the new version running;
- the raw floor of the same traffic with bare nats-py: pipelined KV puts of the same payload to N keys, each
  key watched by its own connection, and N acknowledged state puts back, seen by one watch;
- heartbeat load at a 5 s interval: messages/s and the server's CPU share;
- status query latency (a fresh ``FleetControl.status``: two watches replaying N keys each).
Each floor run and rollout also prints what nats-server did for it (its monitoring endpoint: messages and bytes
in and out, JetStream API calls), so a difference in the server's CPU can be told apart from a difference in
traffic.

What the floor does not carry that a rollout must (measured at 3,000 devices): the rollout reads the registered
devices to resolve its selector (one watch replaying N records: +N messages out of ~5N), and its control side
watches the heartbeats (the fleet's staleness: 2,000 messages/s out at 10,000 devices) and reads the rollout
record while waves settle. The floor carries one thing the rollout does not: its watchers are nats-py KV watches,
ordered consumers with a 5 s idle heartbeat each (another 2,000 messages/s out at 10,000), about as much as the
control's heartbeat watch; the floor is left as it is. What it no longer
costs: each agent watches ``<device>.>`` (a device runs several deployments, and its permissions name that
filter), the floor one literal key; nats-server (2.15) finds the next message of a wildcard-filtered consumer in a
recently written block by a linear walk from where the consumer last looked (``msgBlock.firstMatching``), so each
agent's delivery walked past the other devices' puts of the same rollout: O(N^2) per rollout. A floor whose
watchers filtered ``<device>.>`` spent 0.85 CPU-s in nats-server at 3,000 devices against 0.26-0.38 for the
literal one, with the same messages in and out; the rollout spent 0.89-1.34. Agents now take changes from the
desired bucket's republish (``NatsKeyValue.watch(live=...)``): the rollout's server CPU is 0.35-0.38 s there.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from harmony.agent.heartbeat import Heartbeat  # noqa: E402
from harmony.domain.capabilities.containers import (  # noqa: E402
    ContainerInfo,
    ContainerSpec,
    ContainerSummary,
    ImageInfo,
    ImageRef,
    PublishedPort,
)
from harmony.domain.score import score_adapter  # noqa: E402
from harmony.fleet.control import FleetControl  # noqa: E402
from harmony.fleet.credentials import FleetHome, Identity  # noqa: E402
from harmony.fleet.device_agent import AgentSettings, DeviceAgent  # noqa: E402
from harmony.fleet.rollout import ALL_AT_ONCE  # noqa: E402
from harmony.infra.nats import FleetNatsServer, NatsOptions, fleet_options  # noqa: E402
from harmony.modules.application.container import Container  # noqa: E402
from results import record  # noqa: E402 - bench/results.py, beside this script

HEARTBEAT_INTERVAL = 5.0


class MonitoredNatsServer(FleetNatsServer):
    """The fleet's server with its monitoring endpoint on a free port: the bench reads what each run cost it."""

    def _config(self) -> str:
        return super()._config() + 'http: "127.0.0.1:-1"\n'

    def monitor(self) -> str:
        found = re.search(r"Starting http monitor on ([^\s]+)", self.log_file.read_text())
        assert found is not None, "nats-server started without its monitoring endpoint"
        return f"http://{found.group(1)}"

    def traffic(self) -> dict[str, int]:
        """The server's message and JetStream API counters so far (subtract two readings for a run's)."""
        varz = json.loads(urllib.request.urlopen(self.monitor() + "/varz", timeout=10).read())
        jsz = json.loads(urllib.request.urlopen(self.monitor() + "/jsz", timeout=10).read())
        return {
            "in_msgs": varz["in_msgs"], "out_msgs": varz["out_msgs"],
            "in_bytes": varz["in_bytes"], "out_bytes": varz["out_bytes"], "js_api": jsz["api"]["total"],
        }  # fmt: skip


def traffic_delta(before: Mapping[str, int], after: Mapping[str, int]) -> str:
    d = {k: after[k] - before[k] for k in before}
    return (
        f"msgs in {d['in_msgs']} / out {d['out_msgs']}, bytes in {d['in_bytes'] / 1e6:.1f} MB / "
        f"out {d['out_bytes'] / 1e6:.1f} MB, JetStream API calls {d['js_api']}"
    )


class NoContainerRuntimeForBench:
    """Bench only: containers are entries in a dict; nothing is run, pulled or stopped."""

    def __init__(self) -> None:
        self.containers: dict[str, ContainerInfo] = {}

    async def run_container(self, spec: ContainerSpec, *, settle: bool = True) -> ContainerInfo:
        ports = tuple(
            PublishedPort(container=int(p.container), host=20000, host_ip="127.0.0.1", protocol="tcp")
            for p in spec.ports
        )
        info = ContainerInfo(
            id=f"bench-{spec.name}-{len(self.containers)}", name=str(spec.name), image=str(spec.image),
            state="running", labels={**spec.labels, "io.harmony.managed": "true"}, ports=ports,
        )  # fmt: skip
        self.containers[spec.name] = info
        return info

    async def inspect_container(self, name: str) -> ContainerInfo | None:
        return self.containers.get(name)

    async def list_containers(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerInfo]:
        return list(self.containers.values())

    async def list_container_summaries(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerSummary]:
        return list(self.containers.values())

    async def remove_container(self, name: str, *, grace: float = 10.0, listed: ContainerSummary | None = None) -> None:
        now = self.containers.get(name)
        if now is not None and (listed is None or now.id == listed.id):  # a newer container that took the name stays
            self.containers.pop(name, None)

    async def stop_container(self, name: str, *, grace: float = 10.0) -> None:
        return None

    async def start_container(self, name: str) -> ContainerInfo:
        return self.containers[name]

    async def container_logs(self, name: str, *, tail: int = 50) -> Sequence[str]:
        return ["bench"]

    async def exec_in_container(self, name: str, argv: Sequence[str], *, timeout: float) -> tuple[int, str]:
        return 0, ""

    async def inspect_image(self, ref: ImageRef) -> ImageInfo | None:
        return ImageInfo(id="bench", tags=(ref,))

    async def list_images(self) -> Sequence[ImageInfo]:
        return []

    async def import_image(self, archive: PurePosixPath, ref: ImageRef) -> ImageInfo:
        return ImageInfo(id="bench", tags=(ref,))


def opts(identity: Identity, timeout: float = 10.0) -> NatsOptions:
    return fleet_options(servers=identity.servers, user=identity.user, password=identity.password,
                      inbox_prefix=identity.inbox_prefix, name=identity.user, timeout=timeout)  # fmt: skip


def score(version: str) -> Container:
    return Container(spec=ContainerSpec(name="web", image=ImageRef("localhost/web:1"), command=("httpd", version)))  # pyright: ignore[reportArgumentType]


# ---------------------------------------------------------------- workers


async def agents_worker(home: Path, devices: list[str]) -> None:
    fh = FleetHome(home)
    # one journal per worker process (a device has its own): agents in one process never wait for another
    # process's write lock, and the bench never writes into the user's own journal
    journal = home / f"journal-{os.getpid()}.sqlite3"
    settings = AgentSettings(heartbeat_interval=HEARTBEAT_INTERVAL, ground_truth_interval=30.0, journal=journal)
    before = rss_mib(os.getpid())
    # A report waits for its acknowledgement as long as the floor's puts do (30 s): thousands of agents share
    # this process's event loop, so an acknowledgement that arrived waits behind the other agents' work; with a
    # shorter wait the bench retried reports a device (one agent per event loop) would have had acknowledged.
    agents = [
        DeviceAgent(device=d, options=opts(Identity.model_validate_json(fh.device_file(d).read_text()), timeout=30.0),
                    runtime=NoContainerRuntimeForBench(), runtime_name="bench-none", settings=settings)  # type: ignore[arg-type]  # bench-only runtime: the calls an agent makes, not the whole protocol
        for d in devices
    ]  # fmt: skip
    for i in range(0, len(agents), 50):
        await asyncio.gather(*(a.start() for a in agents[i : i + 50]))
    # thousands of agents in one process are millions of long-lived objects that every full garbage collection
    # walks, a cost a device (one agent per process) does not have: keep them out of the collector's way
    gc.freeze()
    # and a full collection walks every agent of the process (a device's walks its one agent): rarely
    gc.set_threshold(*gc.get_threshold()[:2], 1000)
    print(f"ready {before}", flush=True)  # the process's RSS before its agents existed: what they add is theirs
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(a.stop() for a in agents), return_exceptions=True)


async def floor_worker(home: Path, devices: list[str]) -> None:
    import nats

    control = FleetHome(home).control()
    conns = []
    for i in range(0, len(devices), 50):
        conns += await asyncio.gather(
            *(
                nats.connect(list(control.servers), user=control.user, password=control.password.reveal())
                for _ in devices[i : i + 50]
            )
        )

    async def watch(nc, device: str):  # each watch exists before "ready", as each agent's does
        js = nc.jetstream(timeout=30)  # set-up, not measured: the JetStream API is slow while thousands start
        kv = await js.key_value("floor_desired")
        return js, device, await kv.watch(device)

    watches = []
    for i in range(0, len(conns), 50):  # 10,000 consumer creations at once overrun the JetStream API's queue
        watches += await asyncio.gather(
            *(watch(nc, d) for nc, d in zip(conns[i : i + 50], devices[i : i + 50], strict=True))
        )

    async def loop(js, device: str, watcher) -> None:
        async for entry in watcher:
            if entry is not None and entry.value:
                await js.publish(f"$KV.floor_state.{device}", entry.value)

    async def beat(nc, device: str) -> None:  # the agents' heartbeats: the same traffic, as they send it
        rng = random.Random(device)
        await asyncio.sleep(rng.uniform(0, HEARTBEAT_INTERVAL))
        for seq in itertools.count(1):
            beat = Heartbeat(t=round(time.time(), 3), seq=seq, ok=1)
            await nc.publish(f"$KV.floor_heartbeat.{device}", beat.to_bytes())
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    watchers = [asyncio.create_task(loop(*w)) for w in watches]
    watchers += [asyncio.create_task(beat(nc, d)) for nc, d in zip(conns, devices, strict=True)]
    await asyncio.sleep(1)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for t in watchers:
        t.cancel()
    await asyncio.gather(*(nc.close() for nc in conns), return_exceptions=True)


# ---------------------------------------------------------------- driver


def spawn(mode: str, home: Path, devices: list[str], workers: int) -> tuple[list[subprocess.Popen[str]], float]:
    """The started workers, and the sum of their RSS (MiB) before they created their agents."""
    procs = []
    for w in range(workers):
        share = devices[w::workers]
        argv = [sys.executable, __file__, "--worker", mode, "--home", str(home), "--names", ",".join(share)]
        procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    baseline = 0.0
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline().split()
        if not line or line[0] != "ready":
            for q in procs:
                q.kill()
            raise RuntimeError(f"worker failed to start: {line!r}")
        baseline += float(line[1]) if len(line) > 1 else 0.0
    return procs, baseline


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def floor_run(
    control: FleetControl,
    home: Path,
    names: list[str],
    workers: int,
    reps: int,
    cpu: list[float],
    server: MonitoredNatsServer,
) -> list[float]:
    """The floor's times; ``cpu`` gets each run's CPU seconds (this process + the watchers)."""
    assert server.process is not None
    server_pid = server.process.pid
    await control.bus.ensure_bucket("floor_desired")
    await control.bus.ensure_bucket("floor_state")
    await control.bus.ensure_bucket("floor_heartbeat")
    procs, _ = spawn("floor", home, names, workers)
    times: list[float] = []
    try:
        for rep in range(reps):
            payload = score_adapter().dump_json(score(f"floor-{rep}"))
            seen: set[str] = set()
            done = asyncio.Event()

            async def on_state(u, payload=payload, seen=seen, done=done) -> None:
                if u.value == payload:
                    seen.add(u.key)
                    if len(seen) == len(names):
                        done.set()

            watch = await control.bus.bucket("floor_state").watch(">", on_state)
            cpu0 = time.process_time(), sum(cpu_seconds(p.pid) for p in procs), cpu_seconds(server_pid)
            traffic0 = server.traffic()
            t0 = time.perf_counter()
            await asyncio.gather(*(control.bus.bucket("floor_desired").publish(n, payload) for n in names))
            try:
                await asyncio.wait_for(done.wait(), 120)
            except TimeoutError:
                raise RuntimeError(f"floor run {rep}: {len(seen)} of {len(names)} states came back in 120 s") from None
            times.append(time.perf_counter() - t0)
            spent = time.process_time() - cpu0[0], sum(cpu_seconds(p.pid) for p in procs) - cpu0[1]
            cpu.append(sum(spent))
            progress(
                f"floor run {rep}: {times[-1]:.2f}s (CPU: control {spent[0]:.2f}s, watchers {spent[1]:.2f}s, "
                f"nats-server {cpu_seconds(server_pid) - cpu0[2]:.2f}s); {traffic_delta(traffic0, server.traffic())}"
            )
            await watch.stop()
            await watch.delete_consumer()
        return times
    finally:
        stop(procs)


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


async def main(n: int, workers: int, heartbeat_window: float, reps: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    home = FleetHome(tmp / "home")
    server = MonitoredNatsServer(store_dir=tmp / "nats", auth_file=home.auth_file)
    home.init(servers=["nats://127.0.0.1:0"])
    await server.start()
    home.path.joinpath("control.json").write_text(
        home.control().model_copy(update={"servers": (server.url,)}).model_dump_json()
    )
    names = [f"d{i:05d}" for i in range(n)]
    for name in names:
        home.add_device(name, rewrite_auth=False)
    for p in (home.path / "devices").glob("*.json"):
        ident = Identity.model_validate_json(p.read_text())
        p.write_text(ident.model_copy(update={"servers": (server.url,)}).model_dump_json())
    home.write_auth()
    await server.reload()
    results: dict[str, float] = {"devices": n, "workers": workers}
    # 10,000 acknowledged puts in flight at once: a loaded machine answers the last of them after more than 10 s
    control = await FleetControl.connect(opts(home.control(), timeout=60.0), offline_after=15.0)
    try:
        await asyncio.gather(*(control.register(d, {"fleet": "bench"}) for d in names))
        progress(f"{n} devices registered; raw nats-py floor")
        floor_cpu: list[float] = []
        assert server.process is not None
        floors = await floor_run(control, home.path, names, workers, reps, floor_cpu, server)
        progress(f"floor runs: {', '.join(f'{f:.2f}s' for f in floors)}; starting {n} agents")
        results["floor_runs_s"] = floors  # type: ignore[assignment]  # a list in the JSON output
        results["floor_median_s"] = statistics.median(floors)
        results["floor_cpu_median_s"] = statistics.median(floor_cpu)

        t = time.perf_counter()
        procs, baseline_mib = spawn("agents", home.path, names, workers)
        results["agents_start_s"] = time.perf_counter() - t
        progress(f"agents started in {results['agents_start_s']:.1f}s")
        try:
            view_deadline = time.perf_counter() + 60
            while True:
                from harmony.fleet.control import FleetView

                view = FleetView(control.bus, offline_after=15.0)
                await view.start()
                online = sum(view.online().values())
                await view.stop()
                if online == n or time.perf_counter() > view_deadline:
                    break
                await asyncio.sleep(0.5)
            rollouts: list[float] = []
            cpu: list[tuple[float, float, float]] = []  # per rollout: control (this process), agents, nats-server
            assert server.process is not None
            profile = None
            if os.environ.get("FLEET_BENCH_PROFILE"):  # the control side's rollouts, as the agents' workers are
                import cProfile

                profile = cProfile.Profile()
            for version in range(reps + 1):
                if profile is not None:
                    profile.enable()
                before = (time.process_time(), sum(cpu_seconds(p.pid) for p in procs), cpu_seconds(server.process.pid))
                traffic0 = server.traffic()
                t0 = time.perf_counter()
                await control.deploy("web", score(f"v{version}"), selector={"fleet": "bench"}, strategy=ALL_AT_ONCE)
                final = await control.drive("web")
                rollouts.append(time.perf_counter() - t0)
                after = (time.process_time(), sum(cpu_seconds(p.pid) for p in procs), cpu_seconds(server.process.pid))
                after_traffic = server.traffic()
                if profile is not None:
                    profile.disable()
                cpu.append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))
                progress(
                    f"rollout v{version}: {rollouts[-1]:.2f}s (CPU: control {cpu[-1][0]:.2f}s, "
                    f"agents {cpu[-1][1]:.2f}s, nats-server {cpu[-1][2]:.2f}s); "
                    + traffic_delta(traffic0, after_traffic)
                )
                assert final.phase == "done", final.reason
                status = await control.status("web")
                assert status.healthy == n, status.model_dump(exclude={"devices"})
            if profile is not None:
                profile.dump_stats(f"/tmp/fleet_control_{os.getpid()}.prof")
            results["rollout_first_deploy_s"] = rollouts[0]
            results["rollout_upgrade_runs_s"] = rollouts[1:]  # type: ignore[assignment]  # a list in the JSON output
            results["rollout_upgrade_median_s"] = statistics.median(rollouts[1:])
            # CPU seconds of an upgrade: this process (the control side) + the agents (without nats-server, as
            # the floor's figure): what the machine's cores have to give, whatever the load
            results["rollout_upgrade_cpu_median_s"] = statistics.median(c[0] + c[1] for c in cpu[1:])
            results["rollout_upgrade_server_cpu_median_s"] = statistics.median(c[2] for c in cpu[1:])
            latencies = []
            for _ in range(5):
                t0 = time.perf_counter()
                await control.status("web", fresh=True)
                latencies.append(time.perf_counter() - t0)
            live = []
            for _ in range(5):
                t0 = time.perf_counter()
                await control.status("web")
                live.append(time.perf_counter() - t0)
            results["status_query_live_s"] = statistics.median(live)
            results["status_query_fresh_s"] = statistics.median(latencies)
            assert server.process is not None
            beats: list[int] = []

            async def count(u) -> None:
                beats.append(1)

            watch = await control.bus.bucket("fleet_heartbeat").watch(">", count)
            await watch.replayed.wait()
            beats.clear()
            cpu0, t0 = cpu_seconds(server.process.pid), time.perf_counter()
            agents_cpu0 = sum(cpu_seconds(p.pid) for p in procs)
            await asyncio.sleep(heartbeat_window)
            cpu1, t1 = cpu_seconds(server.process.pid), time.perf_counter()
            agents_cpu1 = sum(cpu_seconds(p.pid) for p in procs)
            await watch.stop()
            results["heartbeats_per_s"] = len(beats) / (t1 - t0)
            rss = [rss_mib(p.pid) for p in procs]
            results["agent_rss_mib_total"] = sum(rss)
            results["agent_rss_kib_per_device"] = sum(rss) * 1024 / n
            # without the worker processes' own interpreter and imports (~50 MiB each, however many agents)
            results["agent_rss_kib_per_device_marginal"] = (sum(rss) - baseline_mib) * 1024 / n
            results["agents_cpu_share_steady"] = (agents_cpu1 - agents_cpu0) / (t1 - t0)
            results["server_cpu_share"] = (cpu1 - cpu0) / (t1 - t0)
        finally:
            stop(procs)
    finally:
        await control.close()
        await server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # 10,000 identities, the store, the journals
    results["ratio_upgrade_to_floor"] = results["rollout_upgrade_median_s"] / results["floor_median_s"]
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)  # more than cores costs more than it gains
    parser.add_argument("--heartbeat-window", type=float, default=15.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--worker", choices=["agents", "floor"])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--names", default="")
    args = parser.parse_args()
    # one socket per device: 10,000 devices need more descriptors than the usual soft limit (the workers and
    # nats-server inherit this)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.worker:
        work = agents_worker if args.worker == "agents" else floor_worker
        if os.environ.get("FLEET_BENCH_PROFILE") and args.worker == "agents":
            import cProfile

            cProfile.run("asyncio.run(work(args.home, [n for n in args.names.split(',') if n]))",
                         f"/tmp/fleet_agents_{os.getpid()}.prof")  # fmt: skip
        else:
            asyncio.run(work(args.home, [n for n in args.names.split(",") if n]))
    else:
        out = asyncio.run(main(args.devices, args.workers, args.heartbeat_window, args.reps))
        print(json.dumps(out, indent=2))
        n = f"{args.devices} device agents"
        record(
            "fleet",
            f"rollout until all report / raw nats-py floor, {n}",
            out["ratio_upgrade_to_floor"],
            "x",
            target=2.0,
        )
        marginal = out["agent_rss_kib_per_device_marginal"]
        record("fleet", f"agent memory per device, {n}", out["agent_rss_kib_per_device"], "KiB", target=150,
               note=f"{marginal:.0f} KiB without the worker processes' interpreters")  # fmt: skip
        record("fleet", f"heartbeats per second, {n}", out["heartbeats_per_s"], "/s", better="higher")
