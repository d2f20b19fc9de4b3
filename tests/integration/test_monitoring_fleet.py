"""Fleet devices watched end to end: real ``harmony fleet`` server and device agents (with ``--metrics-port``),
real Prometheus and Alertmanager, a webhook receiver in the test.

A device agent killed outright (SIGKILL) raises "DeviceOffline" for that device at the receiver; restarted,
the alert resolves. A device added to the scrape job is scraped without restarting Prometheus.
``harmony alerts --json`` lists the firing alert.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.alerting import AlertRouting, WebhookReceiver
from harmony.domain.capabilities.metrics import ScrapeJob, ServiceAddress
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.values import IPv4Address, Port
from harmony.infra.http_api import HttpCallError, http_call
from harmony.maestro import Maestro
from harmony.modules.monitoring import AlertRoutes, MetricsServer, Scrape, default_alert_pack, fleet_device_targets
from harmony.modules.monitoring.pack import DEVICE_JOB
from harmony.topology.monitoring_host import MonitoringHost
from tests.fixtures.monitoring import WebhookSink, alert_named
from tests.fixtures.podman import podman_in, wipe
from tests.fixtures.ports import free_port
from tests.integration.polling import eventually

pytestmark = pytest.mark.slow

HARMONY = str(Path(sys.executable).parent / "harmony")
LOCAL = IPv4Address("127.0.0.1")
FAST = timedelta(seconds=1)


class Fleet:
    """``harmony fleet`` processes: one server, device agents each with a metrics port."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {**os.environ, "HARMONY_FLEET_HOME": str(tmp / "fleet")}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics_ports: dict[str, Port] = {}

    def run(self, *args: str) -> str:
        done = subprocess.run([HARMONY, "fleet", *args], env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self, name: str, *args: str) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen([HARMONY, "fleet", *args], env=self.env, stdout=log, stderr=log)

    def start_device(self, device: str) -> None:
        port = self.metrics_ports.setdefault(device, free_port())
        podman_in(self.tmp / device)  # the store's containers.conf
        self.start(
            device, "agent", "--credentials", str(self.tmp / "fleet" / "devices" / f"{device}.json"),
            "--store", str(self.tmp / device), "--heartbeat", "0.5", "--metrics-port", str(port),
        )  # fmt: skip

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def targets(self, devices: list[str]) -> ScrapeJob:
        addresses = {d: ServiceAddress(host=LOCAL, port=self.metrics_ports[d]) for d in devices}
        return ScrapeJob(name=ResourceName(DEVICE_JOB), targets=fleet_device_targets(addresses))


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(tmp_path)
    try:
        yield f
    finally:
        f.stop_all()
        for device in f.metrics_ports:
            wipe(podman_in(tmp_path / device))


async def metrics_up(port: int) -> bool:
    try:
        return b"harmony_device_heartbeats_total" in await http_call(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except HttpCallError:
        return False


async def scraped_devices(host: MonitoringHost) -> dict[str, str]:
    raw = json.loads(await http_call(f"{host.prometheus.url}/api/v1/targets", timeout=5))
    active = raw["data"]["activeTargets"]
    return {t["labels"]["device"]: t["health"] for t in active if t["labels"].get("job") == DEVICE_JOB}


@pytest.fixture
async def watched(fleet: Fleet, monitoring_host: MonitoringHost, webhook_sink: WebhookSink) -> Fleet:
    fleet.run("init", "--port", str(free_port()))
    fleet.start("server", "server")
    for device in ("d1", "d2"):
        fleet.run("register", device, "-l", "site=lab")
        fleet.start_device(device)
    for device in ("d1", "d2"):
        port = fleet.metrics_ports[device]
        await eventually(functools.partial(metrics_up, port), what=f"{device}'s /metrics", deadline=60)
    return fleet


async def test_killed_device_agent_raises_device_offline_then_resolves(
    watched: Fleet, monitoring_host: MonitoringHost, webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    fleet, host = watched, monitoring_host
    routing = AlertRouting(
        receivers=(WebhookReceiver(name=ResourceName("ops"), url=webhook_sink.url),),
        default_receiver=ResourceName("ops"),
        group_by=("alertname", "device"),
        group_wait=FAST,
        group_interval=FAST,
    )
    scores: list[Score[MonitoringHost]] = [
        MetricsServer(scrape_interval=FAST, evaluation_interval=FAST, alert_routers=(host.alert_router_address,)),
        Scrape(job=fleet.targets(["d1"])),
        default_alert_pack(offline_for=timedelta(seconds=2)),
        AlertRoutes(routing=routing),
    ]
    maestro = Maestro(host)
    assert (await maestro.apply(scores)).status is Status.SUCCESS

    # d2 joins the scrape job: file-based discovery picks it up, the same Prometheus process scrapes it
    pid = await host.prometheus.pid()
    scores[1] = Scrape(job=fleet.targets(["d1", "d2"]))
    assert (await maestro.apply(scores)).status is Status.SUCCESS
    await eventually(lambda: _healthy(host, {"d1", "d2"}), what="d1 and d2 scraped", deadline=60)
    assert await host.prometheus.pid() == pid

    fleet.kill("d1")
    firing = await webhook_sink.wait_for(alert_named("DeviceOffline", "firing"), timeout=90)
    (alert,) = [a for a in firing["alerts"] if a["labels"]["alertname"] == "DeviceOffline"]
    assert alert["labels"]["device"] == "d1"
    assert alert["annotations"]["summary"] == "device d1 is offline (its agent does not answer)"

    listed = subprocess.run(
        [HARMONY, "alerts", "--url", host.alertmanager.url, "--json"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    names = {(a["name"], a["labels"].get("device")) for a in json.loads(listed.stdout)}
    assert ("DeviceOffline", "d1") in names and ("DeviceOffline", "d2") not in names

    fleet.start_device("d1")
    resolved = await webhook_sink.wait_for(alert_named("DeviceOffline", "resolved"), timeout=90)
    assert [a["labels"]["device"] for a in resolved["alerts"]] == ["d1"]


async def _healthy(host: MonitoringHost, devices: set[str]) -> bool:
    found = await scraped_devices(host)
    return all(found.get(d) == "up" for d in devices)
