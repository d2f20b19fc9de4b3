"""``MonitoringHost``: the box that watches a site — a metrics collector, an alert router, a host exporter.

It provides ``Monitoring`` (``MetricsCollector``, ``AlertRouter``, ``HostMetricsExporter``) by composing
three adapters, each keeping its files under ``state_dir``: Prometheus, Alertmanager and the node exporter.
They listen on ``host`` (default loopback) at the given ports; with ``netns`` they run in that network
namespace. The daemons are left running when a run ends (they are the deployment); ``stop()`` stops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from harmony.domain.capabilities.alerting import AlertRouting, FiringAlert
from harmony.domain.capabilities.metrics import (
    AlertRuleGroup,
    CollectorSettings,
    HostExporterSettings,
    ScrapeJob,
    ServiceAddress,
)
from harmony.domain.errors import TopologyError
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port
from harmony.infra.alertmanager import Alertmanager
from harmony.infra.node_exporter import NodeExporter
from harmony.infra.programs import ALERTMANAGER, AMTOOL, NODE_EXPORTER, PROMETHEUS, PROMTOOL
from harmony.infra.prometheus import Prometheus

METRICS_PORT = Port(9090)
ALERTS_PORT = Port(9093)
REQUIRED_PROGRAMS = (PROMETHEUS, PROMTOOL, ALERTMANAGER, AMTOOL, NODE_EXPORTER)


class MonitoringHost:
    """Prometheus, Alertmanager and the node exporter on this machine (or in a network namespace)."""

    def __init__(
        self,
        *,
        name: str,
        state_dir: Path,
        metrics_port: Port = METRICS_PORT,
        alerts_port: Port = ALERTS_PORT,
        host: str = "127.0.0.1",
        netns: str | None = None,
    ) -> None:
        self._name = name
        self.state_dir = state_dir
        self.netns = netns
        self.prometheus = Prometheus(state_dir=state_dir / "prometheus", port=metrics_port, host=host, netns=netns)
        self.alertmanager = Alertmanager(state_dir=state_dir / "alertmanager", port=alerts_port, host=host, netns=netns)
        self.node_exporter = NodeExporter(state_dir=state_dir / "node-exporter", host=host, netns=netns)
        self._host = host

    @property
    def name(self) -> str:
        return self._name

    @property
    def alert_router_address(self) -> ServiceAddress:
        """Where this host's alert router listens (for ``CollectorSettings.alert_routers``)."""
        return ServiceAddress(host=IPv4Address(self._host), port=self.alertmanager.port)

    async def ensure_ready(self) -> None:
        for program in REQUIRED_PROGRAMS:
            program.require()  # MissingProgramError names the Debian package
        try:
            await asyncio.to_thread(self.state_dir.mkdir, parents=True, exist_ok=True)
        except OSError as e:
            raise TopologyError(self._name, f"cannot create state directory {self.state_dir}: {e}") from e

    async def close(self) -> None:
        return None

    async def stop(self) -> None:
        """Stop the three daemons (their configuration and data stay)."""
        await self.prometheus.stop()
        await self.alertmanager.stop()
        await self.node_exporter.stop()

    # MetricsCollector
    async def collector_settings(self) -> CollectorSettings | None:
        return await self.prometheus.collector_settings()

    async def apply_collector_settings(self, settings: CollectorSettings) -> None:
        await self.prometheus.apply_collector_settings(settings)

    async def scrape_jobs(self) -> Sequence[ScrapeJob]:
        return await self.prometheus.scrape_jobs()

    async def put_scrape_job(self, job: ScrapeJob) -> None:
        await self.prometheus.put_scrape_job(job)

    async def remove_scrape_job(self, name: ResourceName) -> None:
        await self.prometheus.remove_scrape_job(name)

    async def alert_rule_groups(self) -> Sequence[AlertRuleGroup]:
        return await self.prometheus.alert_rule_groups()

    async def check_alert_rule_group(self, group: AlertRuleGroup) -> None:
        await self.prometheus.check_alert_rule_group(group)

    async def put_alert_rule_group(self, group: AlertRuleGroup) -> None:
        await self.prometheus.put_alert_rule_group(group)

    async def remove_alert_rule_group(self, name: ResourceName) -> None:
        await self.prometheus.remove_alert_rule_group(name)

    # AlertRouter
    async def alert_routing(self) -> AlertRouting | None:
        return await self.alertmanager.alert_routing()

    async def check_alert_routing(self, routing: AlertRouting) -> None:
        await self.alertmanager.check_alert_routing(routing)

    async def apply_alert_routing(self, routing: AlertRouting) -> None:
        await self.alertmanager.apply_alert_routing(routing)

    async def alerts(self) -> Sequence[FiringAlert]:
        return await self.alertmanager.alerts()

    # HostMetricsExporter
    async def host_metrics_exporter(self) -> HostExporterSettings | None:
        return await self.node_exporter.host_metrics_exporter()

    async def apply_host_metrics_exporter(self, settings: HostExporterSettings) -> None:
        await self.node_exporter.apply_host_metrics_exporter(settings)
