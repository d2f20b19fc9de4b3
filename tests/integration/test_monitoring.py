"""Monitoring end to end on real Prometheus, Alertmanager and node exporter.

Timings are short (scrape and evaluation every 1 s, ``for`` 2 s, group wait 1 s); the waits below are
generous deadlines for a loaded machine, not timing assertions (figures are in bench/ and docs/benchmarks.md).
"""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.alerting import AlertRouting, Route, WebhookReceiver
from harmony.domain.capabilities.metrics import (
    AlertRule,
    AlertRuleGroup,
    AlertRuleTest,
    ExpectedAlert,
    HostExporterSettings,
    ScrapeJob,
    ScrapeTarget,
    SeriesInput,
    Severity,
)
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.score import Score
from harmony.domain.secret import Secret
from harmony.domain.values import IPv4Address
from harmony.maestro import Maestro
from harmony.maestro.events import Event
from harmony.modules.monitoring import AlertRoutes, AlertRules, HostMetrics, MetricsServer, Scrape, default_alert_pack
from harmony.modules.monitoring.pack import NODE_JOB
from harmony.topology.monitoring_host import MonitoringHost
from tests.fixtures.monitoring import WebhookSink, alert_named
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.slow

LOCAL = IPv4Address("127.0.0.1")
TOKEN = "s3cr3t-webhook-token-4711"
FAST = timedelta(seconds=1)


def server(host: MonitoringHost) -> MetricsServer:
    return MetricsServer(scrape_interval=FAST, evaluation_interval=FAST, alert_routers=(host.alert_router_address,))


def routing(sink: WebhookSink) -> AlertRoutes:
    receiver = WebhookReceiver(name=ResourceName("ops"), url=sink.url, bearer_token=Secret(TOKEN))
    return AlertRoutes(
        routing=AlertRouting(
            receivers=(receiver,),
            default_receiver=ResourceName("ops"),
            routes=(Route(receiver=ResourceName("ops"), severity=Severity.CRITICAL),),
            group_by=("alertname", "instance"),
            group_wait=FAST,
            group_interval=FAST,
            repeat_interval=timedelta(hours=1),
        )
    )


async def test_node_down_is_delivered_then_resolved(monitoring_host: MonitoringHost, webhook_sink: WebhookSink) -> None:
    exporter_port = free_port()
    node_job = ScrapeJob(name=ResourceName(NODE_JOB), targets=(ScrapeTarget(host=LOCAL, port=exporter_port),))
    scores: list[Score[MonitoringHost]] = [
        HostMetrics(port=exporter_port),
        server(monitoring_host),
        Scrape(job=node_job),
        default_alert_pack(offline_for=timedelta(seconds=2)),
        routing(webhook_sink),
    ]
    events: list[Event] = []
    maestro = Maestro(monitoring_host, on_event=events.append)
    first = await maestro.apply(scores)
    assert first.status is Status.SUCCESS, first.error
    assert (await maestro.apply(scores)).status is Status.NOOP

    await monitoring_host.node_exporter.stop()
    firing = await webhook_sink.wait_for(alert_named("NodeDown", "firing"), timeout=60)
    assert firing["receiver"] == "ops"
    assert webhook_sink.headers[0]["authorization"] == f"Bearer {TOKEN}"
    assert any(a.name == "NodeDown" for a in await monitoring_host.alerts())

    await monitoring_host.apply_host_metrics_exporter(HostExporterSettings(port=exporter_port))
    await webhook_sink.wait_for(alert_named("NodeDown", "resolved"), timeout=60)

    # the rendered configuration holds the token, so only its owner may read it; no output shows it
    config = Path(monitoring_host.alertmanager.config_file)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert TOKEN in config.read_text()
    shown = "".join(e.model_dump_json() for e in events) + json.dumps([r.changes for r in first.results], default=str)
    assert TOKEN not in shown


async def test_invalid_promql_is_rejected_at_plan_time(monitoring_host: MonitoringHost) -> None:
    bad = AlertRules(
        group=AlertRuleGroup(
            name=ResourceName("broken"),
            rules=(AlertRule(name="Broken", expr="up{job=", severity=Severity.WARNING),),
        )
    )
    scores = [server(monitoring_host), bad]
    report = await Maestro(monitoring_host).apply(scores)
    assert report.status is Status.FAILURE
    assert report.error is not None and "broken" in report.error and "promtool" in report.error
    assert "nothing was applied" in report.error
    assert await monitoring_host.collector_settings() is None  # the server Score of the same run did not run


async def test_a_failing_rule_test_fails_the_plan(monitoring_host: MonitoringHost) -> None:
    wrong = AlertRule(
        name="Down",
        expr="up == 0",
        severity=Severity.WARNING,
        tests=(  # claims the alert fires while the target is up: promtool test rules disagrees
            AlertRuleTest(
                input_series=(SeriesInput(series='up{job="x"}', values="1 1 1"),),
                eval_time=timedelta(minutes=2),
                expected=(ExpectedAlert(labels={"job": "x"}),),
            ),
        ),
    )
    report = await Maestro(monitoring_host).plan(
        [AlertRules(group=AlertRuleGroup(name=ResourceName("g"), rules=(wrong,)))]
    )
    assert report.status is Status.FAILURE
    assert report.error is not None and "rule tests" in report.error and "Down" in report.error
