"""Monitoring placed on SSH hosts of the lab: Prometheus and Alertmanager on one lab host, a node exporter on
another, all configured and started through their hosts' connectors (pid-file daemons: lab hosts run no
systemd). Prometheus scrapes the other host's exporter across the lab; when that exporter stops, "node down"
reaches a webhook on this machine, and "resolved" once it is back.

Timings are short (1 s scrape and evaluation, ``for`` 2 s, group wait 1 s); waits are generous deadlines.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from ipaddress import IPv4Interface
from pathlib import PurePosixPath

import pytest

from harmony.domain.capabilities.alerting import AlertRouting, WebhookReceiver
from harmony.domain.capabilities.metrics import ScrapeJob, ScrapeTarget
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.values import IPv4Address, Port
from harmony.infra.ssh import SshConnector
from harmony.maestro import Maestro
from harmony.modules.monitoring import AlertRoutes, HostMetrics, MetricsServer, Scrape, default_alert_pack
from harmony.modules.monitoring.pack import NODE_JOB
from harmony.testing.ssh_lab import SshLab
from harmony.topology.linux_host import LinuxHost
from harmony.topology.monitoring_host import MonitoringHost
from tests.fixtures.monitoring import WebhookSink, alert_named
from tests.fixtures.netns import sh
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.slow

FAST = timedelta(seconds=1)
WATCHER, WATCHED = 0, 1  # lab hosts: the monitoring box, and a host whose exporter it scrapes


def on_lab_host(lab: SshLab, i: int, state_dir: PurePosixPath) -> MonitoringHost:
    inventory = lab.inventory().hosts[i]
    host = LinuxHost.from_inventory(inventory, known_hosts=lab.known_hosts)
    return MonitoringHost.on(
        host,
        address=lab.hosts[i].address,
        state_dir=state_dir,
        metrics_port=Port(free_port()),
        alerts_port=Port(free_port()),
    )


@pytest.fixture
async def lab_webhook(ssh_lab: SshLab) -> AsyncIterator[WebhookSink]:
    """A webhook receiver on this machine's end of the watcher's link (the lab hosts route to it)."""
    gateway = IPv4Interface(f"{ssh_lab.hosts[WATCHER].address}/30").network.network_address + 1
    sink = WebhookSink(host=str(gateway))
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


async def test_monitoring_on_a_lab_host_scrapes_another_and_delivers_node_down(
    ssh_lab: SshLab, lab_webhook: WebhookSink
) -> None:
    state = PurePosixPath(f"/var/lib/harmony/monitoring-{secrets.token_hex(3)}")
    watcher = on_lab_host(ssh_lab, WATCHER, state)
    watched = on_lab_host(ssh_lab, WATCHED, state)
    exporter_port = Port(free_port())
    watched_address = IPv4Address(ssh_lab.hosts[WATCHED].address)
    node_job = ScrapeJob(name=ResourceName(NODE_JOB), targets=(ScrapeTarget(host=watched_address, port=exporter_port),))
    scores: list[Score[MonitoringHost]] = [
        MetricsServer(scrape_interval=FAST, evaluation_interval=FAST, alert_routers=(watcher.alert_router_address,)),
        Scrape(job=node_job),
        default_alert_pack(offline_for=timedelta(seconds=2)),
        AlertRoutes(
            routing=AlertRouting(
                receivers=(WebhookReceiver(name=ResourceName("ops"), url=lab_webhook.url),),
                default_receiver=ResourceName("ops"),
                group_by=("alertname", "instance"),
                group_wait=FAST,
                group_interval=FAST,
                repeat_interval=timedelta(hours=1),
            )
        ),
    ]
    try:
        exporter = await Maestro(watched).apply([HostMetrics(port=exporter_port)])
        assert exporter.status is Status.SUCCESS, exporter.error
        first = await Maestro(watcher).apply(scores)
        assert first.status is Status.SUCCESS, first.error
        connector = watcher.host.connector
        assert isinstance(connector, SshConnector)
        before = dict(connector.execs)
        again = await Maestro(watcher).apply(scores)
        assert again.status is Status.NOOP, again.results
        spent = {k: n - before.get(k, 0) for k, n in connector.execs.items() if n != before.get(k, 0)}
        assert spent == {"run-lock": 1, "read": 1}, "a no-op: the run lock and one round trip of reads"

        await watcher.host.ensure_ready()  # each run closed its connection to the box
        await watched.host.ensure_ready()
        # the daemons run on the lab hosts (in their namespaces), not on this machine
        listening = sh(["ss", "-Hltn"], netns=ssh_lab.hosts[WATCHER].netns)
        assert f"{ssh_lab.hosts[WATCHER].address}:{watcher.prometheus.port}" in listening
        assert f"{ssh_lab.hosts[WATCHER].address}:{watcher.alertmanager.port}" in listening
        assert f"{watched_address}:{exporter_port}" in sh(["ss", "-Hltn"], netns=ssh_lab.hosts[WATCHED].netns)
        assert await watcher.prometheus.pid() is not None and await watched.node_exporter.pid() is not None

        await watched.node_exporter.stop()
        firing = await lab_webhook.wait_for(alert_named("NodeDown", "firing"), timeout=90)
        (alert,) = [a for a in firing["alerts"] if a["labels"]["alertname"] == "NodeDown"]
        assert alert["labels"]["instance"] == f"{watched_address}:{exporter_port}"

        assert (await Maestro(watched).apply([HostMetrics(port=exporter_port)])).status is Status.SUCCESS
        await lab_webhook.wait_for(alert_named("NodeDown", "resolved"), timeout=90)
    finally:
        for box in (watcher, watched):
            await box.host.ensure_ready()
            await box.stop()
            await box.host.run_command(["rm", "-rf", "--", str(state)], timeout=60)
            await box.close()
