"""The office edge plus 10 container hosts with one app each, over SSH vs the same Scores on this machine.

    .venv/bin/python bench/remote_bench.py [--repeat 3]      # as root: it starts its own SSH lab

Over SSH: the office edge of ``examples/office_edge_ssh_deploy`` (DNS, DHCP with PXE on the router's LAN,
boot scripts, load balancing, firewall) on lab host 0 (``EdgeRouter.on``), and on each of lab hosts 1-10 a
busybox web app (image built on the host, blue-green ``Application`` behind that host's HAProxy, name in its
dnsmasq) through ``ContainerHost.on``. Locally: the same edge Scores on an ``EdgeRouter`` in a network
namespace of this machine (no SSH), and the same app on 10 ``ContainerHost.isolated`` stores. Each side is 11
Maestro runs at once (one per topology), timed as a whole from this process: the first apply, then the
no-op re-apply (median of ``--repeat``). Every SSH run opens its host's connection and closes it at the end,
as ``harmony apply`` does. Also reported: round trips per host in one no-op run (commands sent to the host,
the run lock's holder aside; the target is 1).
Results replace the section between the markers in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from tests.fixtures.ports import free_port  # noqa: E402

from harmony.domain.capabilities.containers import ImageRef  # noqa: E402 - after the sys.path set-up above
from harmony.domain.capabilities.firewall import Endpoint  # noqa: E402
from harmony.domain.names import ResourceName  # noqa: E402
from harmony.domain.outcome import Status  # noqa: E402
from harmony.domain.score import Score  # noqa: E402
from harmony.domain.topology import Topology  # noqa: E402
from harmony.domain.values import Hostname, IPv4Address, Port, ip_address  # noqa: E402
from harmony.infra.ssh import SshConnector  # noqa: E402
from harmony.maestro import Maestro  # noqa: E402
from harmony.maestro.runner import RunReport  # noqa: E402
from harmony.modules.application import Application, BusyboxImage, Exposure, HttpCheck  # noqa: E402
from harmony.modules.firewall import FirewallRules  # noqa: E402
from harmony.testing.ssh_lab import SshLab  # noqa: E402
from harmony.topology.container_host import DEFAULT_STATE_DIR, ContainerHost  # noqa: E402
from harmony.topology.edge_router import EdgeRouter  # noqa: E402
from harmony.topology.linux_host import LinuxHost  # noqa: E402
from results import record  # noqa: E402 - bench/results.py, beside this script

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- remote-bench:start -->", "<!-- remote-bench:end -->"
APP_HOSTS = 10
LOCAL_ROUTER = APP_HOSTS + 1  # the lab host whose namespace the local router uses (no SSH to it)


@dataclass
class Run:
    """One Maestro run of the deployment: a topology and its Scores (of any capability set)."""

    topology: Topology
    scores: Sequence[Score[EdgeRouter]] | Sequence[Score[ContainerHost]]


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def web_app(address: IPv4Address, port: int, staging: PurePosixPath) -> list[Score[ContainerHost]]:
    image = BusyboxImage(
        ref=ImageRef("localhost/bench-site:live"),
        files={"www/index.html": "bench site\n"},
        staging_dir=staging,
    )
    app = Application(
        app=ResourceName("site"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(
            hostname=Hostname("site.apps.lan"), zone=Hostname("apps.lan"), address=address, port=Port(port)
        ),
        smoke=HttpCheck(path="/index.html", expect_body="bench site", timeout=60),
        stop_grace=1.0,
    )
    return [image, app]


async def apply_all(runs: Sequence[Run], expect: Status) -> float:
    async def one(r: Run) -> tuple[float, RunReport]:
        t0 = time.perf_counter()
        report = await Maestro(r.topology).apply(r.scores)
        return time.perf_counter() - t0, report

    start = time.perf_counter()
    timed = await asyncio.gather(*(one(r) for r in runs))
    elapsed = time.perf_counter() - start
    reports = [report for _, report in timed]
    slowest = max(range(len(runs)), key=lambda i: timed[i][0])
    print(f"    slowest: {runs[slowest].topology.name} {timed[slowest][0]:.2f}s", flush=True)
    for r, report in zip(runs, reports, strict=True):
        if report.status is not expect:
            outcomes = [(x.score, x.outcome) for x in report.results]
            raise SystemExit(f"{r.topology.name}: {report.status} (expected {expect}): {report.error} {outcomes}")
    return elapsed


def round_trips(runs: Sequence[Run]) -> list[int]:
    """Per SSH host so far: every command sent to it, the run lock's holder aside."""
    counts: list[int] = []
    for r in runs:
        host = getattr(r.topology, "host", None)
        connector = getattr(host, "connector", None)
        if isinstance(connector, SshConnector):
            counts.append(sum(n for program, n in connector.execs.items() if program != "run-lock"))
    return counts


@dataclass
class Measured:
    first: float
    noop: float
    trips: list[int]
    cpu: float
    """CPU seconds of one no-op (mean): this process and its children, and everything run on the lab hosts."""


def cpu_seconds(lab: SshLab) -> float:
    """CPU used so far by this process, its children, and every lab host's sshd with what it started (an sshd
    reaps its connections, which reap their commands: its children's time holds all of a host's work)."""
    own = os.times()
    total = own.user + own.system + own.children_user + own.children_system
    tick = os.sysconf("SC_CLK_TCK")
    for host in lab.hosts:
        if host.process is not None:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{host.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[13]) + int(fields[14])) / tick  # cutime, cstime
    return total


async def measure(label: str, runs: Sequence[Run], repeat: int, lab: SshLab) -> Measured:
    first = await apply_all(runs, Status.SUCCESS)
    print(f"  {label} first apply: {first:.2f}s", flush=True)
    noops: list[float] = []
    trips: list[int] = []
    await asyncio.sleep(1)  # the first apply's connections reaped on the hosts
    cpu_before = cpu_seconds(lab)
    for _ in range(repeat):
        before = round_trips(runs)
        noops.append(await apply_all(runs, Status.NOOP))
        trips = [a - b for a, b in zip(round_trips(runs), before, strict=True)]
        print(f"  {label} no-op: {noops[-1]:.2f}s", flush=True)
    await asyncio.sleep(1)
    cpu = (cpu_seconds(lab) - cpu_before) / repeat
    print(f"  {label} no-op CPU: {cpu:.2f}s", flush=True)
    return Measured(first=first, noop=statistics.median(noops), trips=trips, cpu=cpu)


async def first_commands(host: LinuxHost, times: int = 10) -> tuple[float, float]:
    """Median seconds of the first command on a new connection and of the one after it (``true``, each)."""
    first: list[float] = []
    second: list[float] = []
    for _ in range(times):
        connector = host.connector
        await connector.open()
        for timings in (first, second):
            t0 = time.perf_counter()
            await connector.run_command(["true"])
            timings.append(time.perf_counter() - t0)
        await connector.close()
    return statistics.median(first), statistics.median(second)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min) / {five:.1f} (5 min)"


async def run(repeat: int) -> str:
    work = Path(tempfile.mkdtemp(prefix="harmony-remote-bench-"))
    lab = SshLab(work / "lab", APP_HOSTS + 2)
    lab.start()
    os.environ["HARMONY_LAB"] = str(lab.workdir)
    os.environ["HARMONY_EDGE_HOST"] = lab.hosts[0].name
    from examples import office_edge_ssh_deploy as office  # the edge Scores, on this lab's router

    inventory = lab.inventory().hosts
    local_ns = lab.hosts[LOCAL_ROUTER].netns
    for ns in (lab.hosts[0].netns, local_ns):
        sh("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", ns, "addr", "add", str(IPv4Interface("10.77.0.1/24")), "dev", "br0")
        sh("ip", "-n", ns, "link", "set", "br0", "up")
    edge_scores: list[Score[EdgeRouter]] = [office.dns, office.dhcp, office.boot, office.intranet, office.firewall]
    local_firewall = FirewallRules(
        policy=office.firewall.policy,
        must_reach=(Endpoint(address=ip_address(lab.hosts[LOCAL_ROUTER].address), port=Port(22)),),
    )
    local_router = EdgeRouter(name="local-edge", state_dir=work / "local-edge", netns=local_ns)
    remote_apps = [
        ContainerHost.on(LinuxHost.from_inventory(inventory[i], known_hosts=lab.known_hosts), dns_port=5353)
        for i in range(1, APP_HOSTS + 1)
    ]
    local_apps = [
        ContainerHost.isolated(work / "local-apps" / f"h{i}", dns_port=free_port(), name=f"local{i}")
        for i in range(1, APP_HOSTS + 1)
    ]
    remote: list[Run] = [
        Run(office.router, edge_scores),
        *(
            Run(h, web_app(IPv4Address(lab.hosts[i].address), 8080, DEFAULT_STATE_DIR / "images"))
            for i, h in enumerate(remote_apps, start=1)
        ),
    ]
    local: list[Run] = [
        Run(local_router, [*edge_scores[:4], local_firewall]),
        *(
            Run(h, web_app(IPv4Address("127.0.0.1"), free_port(), PurePosixPath(work / f"images{i}")))
            for i, h in enumerate(local_apps)
        ),
    ]
    try:
        print(f"machine load before: {load()}", flush=True)
        over_ssh = await measure("ssh", remote, repeat, lab)
        here = await measure("local", local, repeat, lab)
        first_command, next_command = await first_commands(
            LinuxHost.from_inventory(inventory[1], known_hosts=lab.known_hosts)
        )
        print(f"machine load after: {load()}", flush=True)
    finally:
        for h in [*remote_apps, *local_apps]:
            await h.ensure_ready()
            await h.stop_services()
            await h.podman.connector.run_command(h.podman.argv("rm", "-a", "-f", "-t", "0"), timeout=120)
            await h.close()
        for router in (office.router, local_router):
            await router.ensure_ready()
            await router.stop()
            await router.close()
        lab.stop()
        shutil.rmtree(work, ignore_errors=True)
    trips = over_ssh.trips
    ratio = over_ssh.noop / here.noop
    record("remote", "no-op over SSH / local, edge + 10 container hosts", ratio, "x", target=1.5, note=f"load {load()}")
    record("remote", "round trips per SSH host in a no-op (most of any host)", max(trips), "", target=1)
    record("remote", "CPU of a no-op over SSH / local (both ends)", over_ssh.cpu / here.cpu, "x")
    record("remote", "first command on a new SSH connection (median of 10)", first_command * 1000, "ms")
    return "\n".join(
        [
            "| 11 topologies (office edge + 10 container hosts, 1 app each) | over SSH | local | SSH / local |",
            "|---|---:|---:|---:|",
            f"| first apply | {over_ssh.first:.2f} s | {here.first:.2f} s | {over_ssh.first / here.first:.2f}× |",
            f"| no-op re-apply (median of {repeat}) | {over_ssh.noop:.2f} s | {here.noop:.2f} s | {ratio:.2f}× |",
            f"| CPU of one no-op (both ends, all processes) | {over_ssh.cpu:.2f} s | {here.cpu:.2f} s | "
            f"{over_ssh.cpu / here.cpu:.2f}× |",
            "",
            f"Round trips per SSH host in one no-op run: {min(trips)}–{max(trips)} (every command sent to the host, "
            "the run lock's holder aside: the role's prerequisites, the plans' file reads and their read-only "
            "commands — dpkg-query, podman, nft — in one batch, answered by the run lock's holder on its channel: "
            "one channel per host and run).",
            f"First command on a new connection (`true`, median of 10): {first_command * 1000:.0f} ms, the next one "
            f"{next_command * 1000:.0f} ms (sshd's answer to the first channel waited 40 ms for a delayed ACK "
            "before the connector turned quick-ACK on for it).",
            f"Machine load (1 min / 5 min) at the end of the run: {load()}. The lab hosts are namespaces of this "
            "machine: over SSH, both ends (Harmony, and on each host sshd, a shell per command, the encryption) "
            "share the same cores, which a real site's boxes would not.",
        ]
    )


def write_section(table: str) -> None:
    stamp = time.strftime("%Y-%m-%d")
    body = (
        f"{START}\n_Measured {stamp} on this project's 2-core machine (shared with other work), one run. "
        "Rerun: `.venv/bin/python bench/remote_bench.py` (root)._\n\n"
        f"{table}\n{END}"
    )
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START in text:
        head, rest = text.split(START, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text += f"\n## Remote hosts: the office edge and 10 container hosts over SSH vs local\n\n{body}\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-doc", action="store_true", help="print the table only")
    args = parser.parse_args()
    table = asyncio.run(run(args.repeat))
    print(table)
    if not args.no_doc:
        write_section(table)


if __name__ == "__main__":
    main()
