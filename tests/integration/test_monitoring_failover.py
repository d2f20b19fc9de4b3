"""A PostgreSQL failover seen by monitoring: the failover agents' own metrics, scraped by a real Prometheus,
raise "FailoverHappened" at the webhook receiver with the old and the new primary as labels."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from harmony.domain.capabilities.alerting import AlertRouting, WebhookReceiver
from harmony.domain.capabilities.metrics import ScrapeJob, ServiceAddress
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.values import IPv4Address, Port
from harmony.infra.nats import EmbeddedNats
from harmony.maestro import Maestro
from harmony.modules.monitoring import AlertRoutes, MetricsServer, Scrape, default_alert_pack, failover_agent_targets
from harmony.modules.monitoring.pack import FAILOVER_JOB
from harmony.topology.monitoring_host import MonitoringHost
from tests.fixtures.failover import Pair, postgres_base, remove_base, wait_for
from tests.fixtures.monitoring import WebhookSink, alert_named
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.slow

LOCAL = IPv4Address("127.0.0.1")
FAST = timedelta(seconds=1)


@pytest.fixture
async def pair(nats_server: EmbeddedNats) -> AsyncIterator[Pair]:
    base = postgres_base()
    made = Pair(base, [nats_server.url], metrics_ports={"a": free_port(), "b": free_port()})
    try:
        await made.deploy()
        await made.start_agents()
        await made.wait_ready()
        yield made
    finally:
        await made.close()
        print(made.logs())
        remove_base(base)


async def test_failover_raises_failover_happened_with_old_and_new_primary(
    pair: Pair, monitoring_host: MonitoringHost, webhook_sink: WebhookSink
) -> None:
    host = monitoring_host
    agents = {n: ServiceAddress(host=LOCAL, port=Port(p)) for n, p in pair.metrics_ports.items()}
    job = ScrapeJob(name=ResourceName(FAILOVER_JOB), targets=failover_agent_targets("pg", agents))
    routing = AlertRouting(
        receivers=(WebhookReceiver(name=ResourceName("ops"), url=webhook_sink.url),),
        default_receiver=ResourceName("ops"),
        group_wait=FAST,
        group_interval=FAST,
    )
    scores: list[Score[MonitoringHost]] = [
        MetricsServer(scrape_interval=FAST, evaluation_interval=FAST, alert_routers=(host.alert_router_address,)),
        Scrape(job=job),
        default_alert_pack(offline_for=timedelta(seconds=2)),
        AlertRoutes(routing=routing),
    ]
    assert (await Maestro(host).apply(scores)).status is Status.SUCCESS

    os.kill(pair.postmaster_pid("a"), signal.SIGKILL)

    async def promoted() -> bool | None:
        s = await pair.state()
        return True if s is not None and s.record.primary == "b" else None

    await wait_for(promoted, 60, "b promoted")
    note = await webhook_sink.wait_for(alert_named("FailoverHappened", "firing"), timeout=90)
    (alert,) = [a for a in note["alerts"] if a["labels"]["alertname"] == "FailoverHappened"]
    labels = alert["labels"]
    assert (labels["cluster"], labels["old_primary"], labels["new_primary"]) == ("pg", "a", "b")
    assert alert["annotations"]["summary"] == "pg: b took over from a"
