"""Monitoring at fleet scale: Prometheus scraping 1,000 device agents' /metrics, rule evaluation, and the delay
from a device going offline to "DeviceOffline" reaching a webhook receiver.

    .venv/bin/python bench/monitoring_bench.py --devices 1000

What runs: the real Prometheus, Alertmanager (a ``MonitoringHost`` deployed by the monitoring Scores with the
default alert pack) and, in a second process, 1,000 HTTP listeners on loopback, each serving the exposition a
real device agent serves (``DeviceMetrics`` of ``harmony.fleet.metrics``: heartbeats, reconcile histogram,
deployments by phase). They stand in for the agents' listeners: 1,000 full device agents would measure NATS and
the agents, not the monitoring. A device "goes offline" when its listener is closed (the scrape is refused, as
for a killed agent). Measured:
- Prometheus CPU (share of one core) and RSS in steady state, with every target up;
- the rule group's evaluation time and the mean scrape duration (Prometheus's own metrics);
- per offline device: seconds from closing its listener to the firing notification at the receiver, against
  the configured worst case (scrape interval + ``for`` + evaluation interval + group wait).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.fixtures.monitoring import WebhookSink, free_port  # noqa: E402

from harmony.domain.capabilities.alerting import AlertRouting, WebhookReceiver  # noqa: E402
from harmony.domain.capabilities.metrics import ScrapeJob, ServiceAddress  # noqa: E402
from harmony.domain.names import ResourceName  # noqa: E402
from harmony.domain.outcome import Status  # noqa: E402
from harmony.domain.score import Score  # noqa: E402
from harmony.domain.values import IPv4Address, Port  # noqa: E402
from harmony.fleet.metrics import DeviceMetrics  # noqa: E402
from harmony.infra.http_api import http_call  # noqa: E402
from harmony.maestro import Maestro  # noqa: E402
from harmony.modules.monitoring import (  # noqa: E402
    AlertRoutes,
    MetricsServer,
    Scrape,
    default_alert_pack,
    fleet_device_targets,
)
from harmony.modules.monitoring.pack import DEVICE_JOB  # noqa: E402
from harmony.topology.monitoring_host import MonitoringHost  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- monitoring-bench:start -->", "<!-- monitoring-bench:end -->"
LOCAL = IPv4Address("127.0.0.1")


# -- the device listeners (second process) -----------------------------------------------------------------


async def serve_devices(count: int) -> None:
    """Open ``count`` listeners, print their ports as one JSON line, then obey ``close N`` lines on stdin."""
    metrics = DeviceMetrics()
    metrics.heartbeat()
    metrics.reconciled(seconds=0.3, failed=False)
    metrics.deployments({"running": 2})
    body = metrics.endpoint.text().encode()
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )

    open_by_device: list[set[asyncio.StreamWriter]] = [set() for _ in range(count)]

    async def handle(device: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_by_device[device].add(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):  # keep-alive: one answer per request
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            open_by_device[device].discard(writer)
            writer.close()

    servers = [await asyncio.start_server(functools.partial(handle, device), "127.0.0.1", 0) for device in range(count)]
    print(json.dumps([s.sockets[0].getsockname()[1] for s in servers]), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():  # the parent closing stdin ends this process
        command, _, arg = line.decode().strip().partition(" ")
        if command == "close":
            server = servers[int(arg)]
            server.close()
            for writer in list(open_by_device[int(arg)]):  # the scraper's kept-alive connection too, as for a kill
                writer.transport.abort()
            print("closed", flush=True)


# -- the measurement ---------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def query(host: MonitoringHost, promql: str) -> float:
    url = f"{host.prometheus.url}/api/v1/query?query={urllib.parse.quote(promql)}"
    raw = json.loads(await http_call(url, timeout=10))
    result = raw["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


async def own_metric(host: MonitoringHost, name: str) -> float:
    """The largest sample of ``name`` on Prometheus's own /metrics (it does not scrape itself here)."""
    text = (await http_call(f"{host.prometheus.url}/metrics", timeout=10)).decode()
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)]
    return max(values) if values else float("nan")


async def run(args: argparse.Namespace, work: Path) -> dict[str, object]:
    devices = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-devices", str(args.devices),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert devices.stdin is not None
    assert devices.stdout is not None
    ports: list[int] = json.loads(await devices.stdout.readline())
    sink = WebhookSink()
    await sink.start()
    host = MonitoringHost(
        name="bench", state_dir=work / "monitoring", metrics_port=free_port(), alerts_port=free_port()
    )
    scrape, every, hold, wait = (timedelta(seconds=s) for s in (args.scrape, args.scrape, args.hold, args.group_wait))
    try:
        names = {f"dev-{i:04d}": ServiceAddress(host=LOCAL, port=Port(p)) for i, p in enumerate(ports)}
        scores: list[Score[MonitoringHost]] = [
            MetricsServer(
                scrape_interval=scrape, evaluation_interval=every, alert_routers=(host.alert_router_address,)
            ),
            Scrape(job=ScrapeJob(name=ResourceName(DEVICE_JOB), targets=fleet_device_targets(names))),
            default_alert_pack(offline_for=hold),
            AlertRoutes(
                routing=AlertRouting(
                    receivers=(WebhookReceiver(name=ResourceName("ops"), url=sink.url),),
                    default_receiver=ResourceName("ops"),
                    group_by=("alertname", "device"),
                    group_wait=wait,
                    group_interval=wait,
                )
            ),
        ]
        t0 = time.monotonic()
        report = await Maestro(host).apply(scores)
        assert report.status is Status.SUCCESS, report.error
        applied = time.monotonic() - t0
        while await query(host, f'count(up{{job="{DEVICE_JOB}"}} == 1)') != args.devices:  # noqa: ASYNC110
            await asyncio.sleep(1)  # polling Prometheus's own view: there is no event to wait on
        all_up = time.monotonic() - t0
        await asyncio.sleep(args.scrape * 3)  # settle
        pid = await host.prometheus.pid()
        assert pid is not None
        c0, w0 = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(args.window)
        cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - w0)
        rss = rss_mib(pid)
        eval_ms = 1000 * await own_metric(host, "prometheus_rule_group_last_duration_seconds")
        scrape_ms = 1000 * await query(host, f'avg(scrape_duration_seconds{{job="{DEVICE_JOB}"}})')
        delays: list[float] = []
        for k in range(args.offline):
            device = k * (args.devices // max(1, args.offline))
            name = f"dev-{device:04d}"
            devices.stdin.write(f"close {device}\n".encode())
            await devices.stdin.drain()
            await devices.stdout.readline()
            closed = time.monotonic()

            def fired(n: dict[str, object], name: str = name) -> bool:
                alerts = n.get("alerts", [])
                assert isinstance(alerts, list)
                return any(
                    a["labels"].get("alertname") == "DeviceOffline"
                    and a["labels"].get("device") == name
                    and a["status"] == "firing"
                    for a in alerts  # pyright: ignore[reportUnknownVariableType]
                )

            await sink.wait_for(fired, timeout=120)
            delays.append(time.monotonic() - closed)
        budget = args.scrape + args.hold + args.scrape + args.group_wait
        return {
            "devices": args.devices,
            "apply": applied,
            "all_up": all_up,
            "cpu": cpu,
            "rss": rss,
            "eval_ms": eval_ms,
            "scrape_ms": scrape_ms,
            "delays": delays,
            "budget": budget,
        }
    finally:
        await host.stop()
        await sink.stop()
        devices.stdin.close()
        if devices.returncode is None:
            devices.kill()
        await devices.wait()


def table(r: dict[str, object], args: argparse.Namespace) -> str:
    delays = r["delays"]
    assert isinstance(delays, list)
    budget = float(r["budget"])  # type: ignore[arg-type]  # built above from floats
    median = statistics.median(delays)
    return "\n".join(
        [
            f"_Measured {time.strftime('%Y-%m-%d')} on this project's shared 2-core machine (other sessions running). "
            f"Rerun: `.venv/bin/python bench/monitoring_bench.py --devices {args.devices}`._",
            "",
            f"Configured: scrape and evaluation every {args.scrape:g} s, `for` {args.hold:g} s, group wait "
            f"{args.group_wait:g} s; worst case offline → notification = scrape + for + evaluation + group wait = "
            f"**{budget:g} s**.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| targets (device /metrics listeners) | {r['devices']:,} |",
            f"| apply of the 4 Scores (promtool/amtool checks, start, {r['devices']:,} targets) | {r['apply']:.1f} s |",
            f"| apply → every target scraped up | {r['all_up']:.1f} s |",
            f"| Prometheus CPU in steady state ({args.window:g} s window) | {100 * float(r['cpu']):.1f} % of a core |",  # type: ignore[arg-type]
            f"| Prometheus RSS | {r['rss']:.0f} MiB |",
            f"| rule group evaluation (the default pack's 7 rules) | {r['eval_ms']:.1f} ms |",
            f"| mean scrape duration per target | {r['scrape_ms']:.1f} ms |",
            f"| offline → DeviceOffline at the receiver, {len(delays)} devices: median (range) | "
            f"{median:.1f} s ({min(delays):.1f}–{max(delays):.1f}) |",
            f"| ratio to the configured worst case (target ≤ 2×) | **{median / budget:.2f}×** "
            f"(max {max(delays) / budget:.2f}×) |",
        ]
    )


def write_docs(text: str) -> None:
    doc = DOCS.read_text()
    section = f"{START}\n{text}\n{END}"
    if START in doc:
        before, rest = doc.split(START, 1)
        doc = before + section + rest.split(END, 1)[1]
    else:
        doc += f"\n## Monitoring: Prometheus over 1,000 device agents' metrics\n\n{section}\n"
    DOCS.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--scrape", type=float, default=2.0, help="scrape and evaluation interval, seconds")
    parser.add_argument("--hold", type=float, default=4.0, help="`for` of DeviceOffline, seconds")
    parser.add_argument("--group-wait", type=float, default=1.0)
    parser.add_argument("--window", type=float, default=30.0, help="CPU measurement window, seconds")
    parser.add_argument("--offline", type=int, default=5, help="devices taken offline one after another")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--serve-devices", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_devices:
        asyncio.run(serve_devices(args.serve_devices))
        os._exit(0)  # without tearing down a thousand listeners and their pending handlers
    with tempfile.TemporaryDirectory(prefix="hm-monitoring-bench-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    text = table(result, args)
    print(text)
    if not args.no_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
