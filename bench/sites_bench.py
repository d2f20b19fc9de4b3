"""Sites benchmark: a hub of three nats-servers, S sites (leaf nodes) x N device agents, vs the raw floor.

    .venv/bin/python bench/sites_bench.py --sites 5 --per-site 200 --changes 1000

What runs: ``SitesTopology`` (the hub cluster and one leaf node per site, on loopback; the last site inside a
network namespace so its link can be cut with nftables), one worker process per site running that site's
``DeviceAgent``s (the real agent, one NATS connection each to its site's leaf node) on
``NoContainerRuntimeForBench`` (a dict, no container work), and ``HubFleet`` in this process. Measured:
- rollout: ``HubFleet.deploy`` (all sites in one wave) and ``drive`` until every device reported the version;
- the floor of the same traffic through the same topology with bare nats-py: the hub publishes one desired
  entry per device into each site's outbox, the site's bucket receives it by sourcing, a bare connection per
  device watches its key and writes its state, the hub sees every state through its view of the site;
- catch-up: the last site cut off (nftables in its namespace), ``--changes`` desired-state changes written at
  the hub (rollouts to that site's devices), the link restored: time until the site's bucket holds all of
  them, and until every device there reported the last one at the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from tests.fixtures.ports import free_port  # noqa: E402

from fleet_bench import NoContainerRuntimeForBench, score  # noqa: E402
from harmony.domain.score import score_adapter  # noqa: E402
from harmony.domain.values import Port  # noqa: E402
from harmony.fleet.device_agent import AgentSettings, DeviceAgent  # noqa: E402
from harmony.fleet.records import version_of  # noqa: E402
from harmony.fleet.sites import HubFleet, SiteStrategy  # noqa: E402
from harmony.infra.nats import NatsOptions  # noqa: E402
from harmony.infra.nats.sites import JetStreamLink, outbox_subject  # noqa: E402
from harmony.topology.sites import SiteSpec, SitesTopology, sites_spec  # noqa: E402
from results import record  # noqa: E402 - bench/results.py, beside this script


class Namespace:
    """A network namespace joined to this machine by a veth /30; ``cut`` drops its traffic to given ports."""

    def __init__(self) -> None:
        self.name = f"hb{secrets.token_hex(4)}"
        a, b = random.randint(100, 250), random.randint(0, 255)
        self.host_ip, self.ns_ip = f"10.{a}.{b}.1", f"10.{a}.{b}.2"
        run = self._sh
        run("ip", "netns", "add", self.name)
        run("ip", "link", "add", f"{self.name}h", "type", "veth", "peer", "name", f"{self.name}n")
        run("ip", "link", "set", f"{self.name}n", "netns", self.name)
        run("ip", "addr", "add", f"{self.host_ip}/30", "dev", f"{self.name}h")
        run("ip", "link", "set", f"{self.name}h", "up")
        run("ip", "netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", f"{self.name}n")
        run("ip", "netns", "exec", self.name, "ip", "link", "set", f"{self.name}n", "up")
        run("ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up")

    @staticmethod
    def _sh(*argv: str, stdin: str | None = None) -> None:
        subprocess.run(argv, check=True, capture_output=True, input=stdin, text=True)

    def cut(self, ports: list[int]) -> None:
        listed = ", ".join(str(p) for p in ports)
        rules = (
            "table inet hmcut {\n"
            "  chain out { type filter hook output priority 0; "
            f"ip daddr {self.host_ip} tcp dport {{ {listed} }} drop; }}\n"
            "  chain in { type filter hook input priority 0; "
            f"ip saddr {self.host_ip} tcp sport {{ {listed} }} drop; }}\n"
            "}\n"
        )
        self._sh("ip", "netns", "exec", self.name, "nft", "-f", "-", stdin=rules)

    def heal(self) -> None:
        self._sh("ip", "netns", "exec", self.name, "nft", "delete", "table", "inet", "hmcut")

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", f"{self.name}h"], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)


# ---------------------------------------------------------------- workers (one process per site)


async def agents_worker(url: str, devices: list[str]) -> None:
    settings = AgentSettings(heartbeat_interval=5.0, ground_truth_interval=30.0)
    agents = [
        DeviceAgent(
            device=d, options=NatsOptions(servers=[url], name=d, timeout=10.0), runtime=NoContainerRuntimeForBench(),  # type: ignore[arg-type]  # bench-only runtime
            runtime_name="bench-none", settings=settings,
        )
        for d in devices
    ]  # fmt: skip
    for i in range(0, len(agents), 50):
        await asyncio.gather(*(a.start() for a in agents[i : i + 50]))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.gather(*(a.stop() for a in agents), return_exceptions=True)


async def floor_worker(url: str, devices: list[str]) -> None:
    import nats

    conns = []
    for i in range(0, len(devices), 50):
        conns += await asyncio.gather(*(nats.connect(url) for _ in devices[i : i + 50]))
    tasks = []
    for nc, device in zip(conns, devices, strict=True):
        js = nc.jetstream()
        kv = await js.key_value("fleet_desired")

        async def loop(kv=kv, js=js, device=device) -> None:
            watcher = await kv.watch(f"floor-{device}.x")
            async for entry in watcher:
                if entry is not None and entry.value:
                    await js.publish(f"$KV.fleet_state.floor-{device}.x", entry.value)

        tasks.append(asyncio.create_task(loop()))
    await asyncio.sleep(1)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*(nc.close() for nc in conns), return_exceptions=True)


# ---------------------------------------------------------------- driver


def progress(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def spawn(mode: str, topology: SitesTopology, by_site: dict[str, list[str]]) -> list[subprocess.Popen[str]]:
    procs = []
    for site, devices in by_site.items():
        argv = [
            sys.executable,
            __file__,
            "--worker",
            mode,
            "--url",
            topology.spec.site_url(site),
            "--names",
            ",".join(devices),
        ]
        procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for p in procs:
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "ready":
            for q in procs:
                q.kill()
            raise RuntimeError(f"worker failed to start: {line!r}")
    return procs


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()


async def floor_run(
    hub: JetStreamLink, topology: SitesTopology, by_site: dict[str, list[str]], reps: int
) -> list[float]:
    procs = await asyncio.to_thread(spawn, "floor", topology, by_site)  # the loop keeps answering pings
    for site in by_site:
        t = time.perf_counter()
        try:
            await hub.publish(outbox_subject(site, "warmup.x"), b"w")
        except Exception as e:
            print("warmup failed", site, type(e).__name__, e, time.perf_counter() - t, file=sys.stderr)
            info = await hub.js.stream_info(f"OUT_{site}")
            print(info.cluster, info.state, file=sys.stderr)
            raise
    total = sum(len(d) for d in by_site.values())
    times: list[float] = []
    try:
        for rep in range(reps):
            payload = score_adapter().dump_json(score(f"floor-{rep}"))
            t0 = time.perf_counter()
            await asyncio.gather(
                *(
                    hub.publish(outbox_subject(site, f"floor-{d}.x"), payload)
                    for site, ds in by_site.items()
                    for d in ds
                )
            )
            while True:
                got = 0
                for site in by_site:
                    values = await hub.last_values(f"VIEW_{site}", f"view.{site}.fleet_state.*.x")
                    got += sum(v.value == payload for v in values.values())
                if got == total:
                    break
                await asyncio.sleep(0.05)
            times.append(time.perf_counter() - t0)
        return times
    finally:
        await asyncio.to_thread(stop, procs)


async def main(sites: int, per_site: int, changes: int, reps: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="sites-bench-"))
    ns = Namespace()
    names = [f"s{i}" for i in range(sites)]
    specs = [SiteSpec(name=n, port=Port(free_port())) for n in names[:-1]]
    specs.append(SiteSpec(name=names[-1], port=Port(4222), host=ns.ns_ip, netns=ns.name, hub_address=ns.host_ip))
    spec = sites_spec([(free_port(), free_port(), free_port()) for _ in range(3)], specs, hub_leaf_host="0.0.0.0")
    topology = SitesTopology(spec, tmp / "sites")
    by_site = {s: [f"{s}-d{i:04d}" for i in range(per_site)] for s in names}
    results: dict[str, object] = {"sites": sites, "devices_per_site": per_site, "devices": sites * per_site}
    try:
        t = time.perf_counter()
        await topology.ensure_ready()
        results["topology_start_s"] = time.perf_counter() - t
        hub_link = await topology.connect_hub(timeout=30.0)
        hub = await HubFleet.open(hub_link, names, offline_after=15.0)
        await asyncio.gather(*(hub.register(d, s, {"fleet": "bench"}) for s, ds in by_site.items() for d in ds))
        progress("topology up, devices registered")
        floors = await floor_run(hub_link, topology, by_site, reps)
        progress(f"floor runs {floors}")
        results["floor_runs_s"] = floors
        results["floor_median_s"] = statistics.median(floors)

        t = time.perf_counter()
        procs = await asyncio.to_thread(spawn, "agents", topology, by_site)
        results["agents_start_s"] = time.perf_counter() - t
        try:
            while sum((await hub.view()).online().values()) < sites * per_site:  # noqa: ASYNC110 - polling another process's state
                await asyncio.sleep(0.5)
            rollouts: list[float] = []
            for version in range(reps + 1):
                t0 = time.perf_counter()
                await hub.deploy(
                    "web",
                    score(f"v{version}"),
                    selector={"fleet": "bench"},
                    strategy=SiteStrategy(sites_per_wave=sites),
                )
                final = await hub.drive("web")
                rollouts.append(time.perf_counter() - t0)
                progress(f"rollout v{version}: {rollouts[-1]:.1f} s")
                assert final.phase == "done", final.reason
            results["rollout_first_deploy_s"] = rollouts[0]
            results["rollout_upgrade_runs_s"] = rollouts[1:]
            results["rollout_upgrade_median_s"] = statistics.median(rollouts[1:])

            # catch-up: the namespaced site cut off, `changes` desired-state writes at the hub, link back
            cut = names[-1]
            devices = by_site[cut]
            site_log = topology.sites[cut].log_file
            closed = site_log.read_text().count("Leafnode connection closed")
            ns.cut([int(s.leaf_port) for s in spec.hub])
            # until the site's server dropped its leaf connections (pings unanswered): a real reconnect follows
            while site_log.read_text().count("Leafnode connection closed") == closed:  # noqa: ASYNC110 - polling another process's state
                await asyncio.sleep(0.2)
            assert not await hub_link.domain_answers(cut)
            site_link = await topology.connect_site(cut, timeout=10.0)
            before = (await site_link.js.stream_info("KV_fleet_desired")).state.last_seq
            written = 0
            last = b""
            while written < changes:
                last = score_adapter().dump_json(score(f"c{written}"))
                batch = devices[: min(len(devices), changes - written)]
                await asyncio.gather(*(hub_link.publish(outbox_subject(cut, f"{d}.web"), last) for d in batch))
                written += len(batch)
            last_version = version_of(last)
            t0 = time.perf_counter()
            ns.heal()
            while (await site_link.js.stream_info("KV_fleet_desired")).state.last_seq < before + changes:  # noqa: ASYNC110 - polling another process's state
                await asyncio.sleep(0.05)
            results["catchup_site_bucket_s"] = time.perf_counter() - t0
            progress(f"catch-up: the site's bucket holds all {changes} changes")
            while True:
                states = (await hub.view()).states.get("web", {})
                if sum(states.get(d) is not None and states[d].version == last_version for d in devices) == len(
                    devices
                ):
                    break
                await asyncio.sleep(0.1)
            results["catchup_devices_reported_s"] = time.perf_counter() - t0
            results["catchup_changes"] = changes
            await site_link.close()
        finally:
            await asyncio.to_thread(stop, procs)
        await hub_link.close()
    finally:
        await topology.close()
        ns.delete()
    results["ratio_upgrade_to_floor"] = float(results["rollout_upgrade_median_s"]) / float(results["floor_median_s"])  # type: ignore[arg-type]
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--per-site", type=int, default=200)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--worker", choices=["agents", "floor"])
    parser.add_argument("--url", default="")
    parser.add_argument("--names", default="")
    args = parser.parse_args()
    if args.worker == "agents":
        asyncio.run(agents_worker(args.url, args.names.split(",")))
    elif args.worker == "floor":
        asyncio.run(floor_worker(args.url, args.names.split(",")))
    else:
        out = asyncio.run(main(args.sites, args.per_site, args.changes, args.reps))
        print(json.dumps(out, indent=2))
        size = f"{args.sites}x{args.per_site}"
        record("sites", f"hub rollout until all report, {size}", float(out["rollout_upgrade_median_s"]), "s")  # type: ignore[arg-type]
        record("sites", f"rollout vs raw floor, {size}", float(out["ratio_upgrade_to_floor"]), "x")  # type: ignore[arg-type]
        record(
            "sites",
            f"catch-up of a cut-off site, {args.changes} changes",
            float(out["catchup_devices_reported_s"]),
            "s",
        )  # type: ignore[arg-type]
