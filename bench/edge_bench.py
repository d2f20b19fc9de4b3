"""The network edge against the obvious alternatives, on the real daemons.

    .venv/bin/python bench/edge_bench.py [--repeat 3] [--no-doc]      (as root: uses a network namespace)

- Firewall: switching to a policy of N rules with Harmony's one-transaction ``nft -f`` swap versus adding
  the same rules one ``nft add rule`` at a time (what a shell script does; not atomic either).
- Load balancer: 10 configuration changes under continuous HTTP load (4 clients, a new connection per
  request): Harmony's validated hitless reload through the master socket versus stop-and-start.
- DNS: replacing a record set of N records (render, ``dnsmasq --test``, restart) in a namespace.
Median of ``--repeat`` runs for the timings; failed requests are summed over all runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.edge import Load, free_port  # noqa: E402
from tests.fixtures.netns import make_lan  # noqa: E402

from harmony.domain.capabilities.dns import ARecord, DnsRecordSet  # noqa: E402
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone  # noqa: E402
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck  # noqa: E402
from harmony.domain.names import ResourceName  # noqa: E402
from harmony.domain.values import Hostname, IPv4Address, Port  # noqa: E402
from harmony.infra.dnsmasq import Dnsmasq  # noqa: E402
from harmony.infra.haproxy import Haproxy  # noqa: E402
from harmony.infra.local_connector import LocalConnector  # noqa: E402
from harmony.infra.nftables import Nftables, build_chains  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- edge-bench:start -->", "<!-- edge-bench:end -->"
N = ResourceName


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await action()
    return time.perf_counter() - t0


def policy(n: int) -> FirewallPolicy:
    lan = Zone(name=N("lan"), interfaces=("br0",))
    rules = tuple(
        Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(10000 + i),)) for i in range(n)
    )
    return FirewallPolicy(zones=(lan,), rules=rules)


async def bench_firewall(netns: str, state: Path, n: int, repeat: int) -> tuple[float, float]:
    async def no_probe(_: object) -> None:
        return None

    fw = Nftables(state_dir=state / f"fw{n}", connector=LocalConnector(name="bench", netns=netns), probe=no_probe)
    ours = [await timed(lambda: fw.apply_firewall_policy(policy(n), must_reach=())) for _ in range(repeat)]
    naive: list[float] = []
    for _ in range(repeat):
        subprocess.run(["ip", "netns", "exec", netns, "nft", "delete", "table", "inet", "naive"], capture_output=True)
        t0 = time.perf_counter()
        sh = ["ip", "netns", "exec", netns, "nft"]
        subprocess.run([*sh, "add", "table", "inet", "naive"], check=True)
        subprocess.run(
            [*sh, "add chain inet naive input { type filter hook input priority 10; policy accept; }"], check=True
        )
        for chain in build_chains(policy(n)):
            if chain.name != "input":
                continue
            for text, comment in chain.rules:
                subprocess.run([*sh, f'add rule inet naive input {text} comment "{comment}"'], check=True)
        naive.append(time.perf_counter() - t0)
    return statistics.median(ours), statistics.median(naive)


def frontend(port: int, backends: dict[str, int], weight: int) -> Frontend:
    return Frontend(
        name=N("web"),
        address=IPv4Address("127.0.0.1"),
        port=Port(port),
        backends=(
            Backend(name=N("blue"), address=IPv4Address("127.0.0.1"), port=Port(backends["blue"]), weight=weight),
            Backend(name=N("green"), address=IPv4Address("127.0.0.1"), port=Port(backends["green"])),
        ),
        health_check=HealthCheck(interval=timedelta(milliseconds=500)),
    )


async def bench_lb(tmp: Path, repeat: int) -> dict[str, tuple[float, int, int]]:
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    for name in ("blue", "green"):
        root = tmp / name
        root.mkdir()
        (root / "index.html").write_text(name)
        ports[name] = free_port()
        argv = ["busybox", "httpd", "-f", "-p", f"127.0.0.1:{ports[name]}", "-h", str(root)]
        procs.append(subprocess.Popen(argv))  # noqa: ASYNC220 - a daemon started once, never awaited
    results: dict[str, tuple[float, int, int]] = {}
    try:
        for mode in ("hitless reload", "stop and start"):
            times: list[float] = []
            failed = served = 0
            for r in range(repeat):
                lb = Haproxy(state_dir=tmp / f"lb-{mode[0]}{r}")
                port = free_port()
                load = Load(url=f"http://127.0.0.1:{port}/")
                try:
                    await lb.put_frontend(frontend(port, ports, 1))
                    load.start()
                    await asyncio.sleep(0.3)
                    t0 = time.perf_counter()
                    for i in range(10):
                        if mode == "stop and start":
                            await lb.stop()
                        await lb.put_frontend(frontend(port, ports, 2 + i % 2))
                    times.append((time.perf_counter() - t0) / 10)
                    await asyncio.sleep(0.3)
                finally:
                    load.stop()
                    await lb.stop()
                failed += len(load.failures)
                served += load.total
            results[mode] = (statistics.median(times), served, failed)
    finally:
        for p in procs:
            p.kill()
    return results


async def bench_dns(netns: str, state: Path, n: int, repeat: int) -> float:
    dns = Dnsmasq(state_dir=state / f"dns{n}", connector=LocalConnector(name="bench", netns=netns))
    times: list[float] = []
    try:
        for r in range(repeat):
            records = tuple(
                ARecord(name=Hostname(f"h{i}.office.lan"), address=IPv4Address(f"10.{r}.{i // 256}.{i % 256}"))
                for i in range(n)
            )
            rs = DnsRecordSet(owner=N("bench"), zone=Hostname("office.lan"), records=records)
            times.append(await timed(lambda rs=rs: dns.put_dns_record_set(rs)))
        pid_file = PurePosixPath(state / f"dns{n}" / "dnsmasq.pid")
        assert (await LocalConnector(name="bench").read_pids([pid_file]))[pid_file] is not None
    finally:
        await dns.stop()
    return statistics.median(times)


async def run(repeat: int) -> str:
    lan = make_lan()
    rows: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="edge-bench-") as d:
            tmp = Path(d)
            rows += [
                "| firewall: switch to N rules | Harmony (one `nft -f`) | one `nft add rule` per rule | ratio |",
                "|---|---:|---:|---:|",
            ]
            for n in (10, 100, 1000):
                ours, naive = await bench_firewall(lan.router, tmp, n, repeat)
                rows.append(f"| {n} rules | {ours * 1000:.0f} ms | {naive * 1000:.0f} ms | {naive / ours:.1f}× |")
            rows += [
                "",
                "| load balancer: 10 config changes under load | per change | requests served | failed |",
                "|---|---:|---:|---:|",
            ]
            for mode, (per_change, served, failed) in (await bench_lb(tmp, repeat)).items():
                rows.append(f"| {mode} | {per_change * 1000:.0f} ms | {served} | {failed} |")
            rows += ["", "| DNS: replace a record set (validate + restart) | time |", "|---|---:|"]
            for n in (10, 100, 1000):
                rows.append(f"| {n} records | {await bench_dns(lan.router, tmp, n, repeat) * 1000:.0f} ms |")
    finally:
        lan.teardown()
    return "\n".join(rows)


def write_section(table: str, repeat: int) -> None:
    stamp = time.strftime("%Y-%m-%d")
    body = (
        f"{START}\n_Measured {stamp} on this project's 2-core machine (shared with other work), median of {repeat} "
        "runs; failed requests summed over all runs (4 clients retrying at once, so a window of refused "
        "connections counts many attempts). Rerun: `.venv/bin/python bench/edge_bench.py` (root)._\n\n"
        f"{table}\n{END}"
    )
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START in text:
        head, rest = text.split(START, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text += f"\n## Network edge: atomic firewall swaps, hitless reloads, DNS changes\n\n{body}\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-doc", action="store_true", help="print the table only")
    args = parser.parse_args()
    table = asyncio.run(run(args.repeat))
    print(table)
    if not args.no_doc:
        write_section(table, args.repeat)


if __name__ == "__main__":
    main()
