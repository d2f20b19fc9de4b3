"""``MonitoringHost``: the box that watches a site — a metrics collector, an alert router, a host exporter.

It provides ``Monitoring`` (``MetricsCollector``, ``AlertRouter``, ``HostMetricsExporter``) by composing
three adapters, each keeping its files under ``state_dir`` on the box: Prometheus, Alertmanager and the node
exporter. Every adapter works through the host's connector, so one implementation serves every place:

    MonitoringHost.on(LinuxHost.ssh(...), address="10.0.0.5")          # a monitoring box over SSH
    MonitoringHost(name=..., state_dir=..., netns="mon", address=...)    # a namespace on this machine

The daemons listen on ``address`` (default loopback) at the given ports; Harmony checks them and reloads
them over HTTP at that address, so it must be reachable from where Harmony runs. They are left running when
a run ends (they are the deployment); ``stop()`` stops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

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
from harmony.domain.topology import RunLock
from harmony.domain.values import IPv4Address, Port
from harmony.infra.alertmanager import Alertmanager
from harmony.infra.local_connector import LocalConnector
from harmony.infra.node_exporter import NodeExporter
from harmony.infra.programs import ALERTMANAGER, AMTOOL, NODE_EXPORTER, PROMETHEUS, PROMTOOL, START_STOP_DAEMON
from harmony.infra.prometheus import Prometheus
from harmony.infra.run_lock import LocalRunLock
from harmony.topology.linux_host import LinuxHost
from harmony.topology.prerequisites import prepare_role

METRICS_PORT = Port(9090)
ALERTS_PORT = Port(9093)
REQUIRED_PROGRAMS = (PROMETHEUS, PROMTOOL, ALERTMANAGER, AMTOOL, NODE_EXPORTER, START_STOP_DAEMON)
REQUIRED_PACKAGES = tuple(dict.fromkeys(p.package for p in REQUIRED_PROGRAMS))
"""The Debian packages the monitoring role needs on its box."""

DEFAULT_STATE_DIR = PurePosixPath("/var/lib/harmony/monitoring")


class MonitoringHost:
    """Prometheus, Alertmanager and the node exporter on one Linux box (this machine by default)."""

    def __init__(
        self,
        *,
        name: str,
        state_dir: Path | PurePosixPath,
        metrics_port: Port = METRICS_PORT,
        alerts_port: Port = ALERTS_PORT,
        address: str = "127.0.0.1",
        netns: str | None = None,
        host: LinuxHost | None = None,
    ) -> None:
        """Monitoring on ``host`` (default: this machine, inside ``netns`` when given)."""
        self._name = name
        self.host = host or LinuxHost(name=name, connector=LocalConnector(name=name, netns=netns))
        connector = self.host.connector
        self._here = isinstance(connector, LocalConnector)
        self.state_dir = PurePosixPath(Path(state_dir).absolute() if self._here else state_dir)
        self.netns = connector.netns
        self.prometheus = Prometheus(
            state_dir=self.state_dir / "prometheus", port=metrics_port, host=address, connector=connector
        )
        self.alertmanager = Alertmanager(
            state_dir=self.state_dir / "alertmanager", port=alerts_port, host=address, connector=connector
        )
        self.node_exporter = NodeExporter(state_dir=self.state_dir / "node-exporter", host=address, connector=connector)
        self._address = address

    @classmethod
    def on(
        cls,
        host: LinuxHost,
        *,
        address: str,
        state_dir: PurePosixPath = DEFAULT_STATE_DIR,
        metrics_port: Port = METRICS_PORT,
        alerts_port: Port = ALERTS_PORT,
    ) -> MonitoringHost:
        """``host`` becomes the site's monitoring box, its daemons listening on ``address`` there."""
        return cls(
            name=host.name,
            state_dir=state_dir,
            metrics_port=metrics_port,
            alerts_port=alerts_port,
            address=address,
            host=host,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def alert_router_address(self) -> ServiceAddress:
        """Where this host's alert router listens (for ``CollectorSettings.alert_routers``)."""
        return ServiceAddress(host=IPv4Address(self._address), port=self.alertmanager.port)

    async def ensure_ready(self) -> None:
        await self.connect()
        await self.prepare()

    async def connect(self) -> None:
        if not self._here:
            await self.host.ensure_ready()

    async def prepare(self) -> bool:
        """The role's packages and state directory on the box (see ``prerequisites.prepare_role``); here: its
        programs, checked on this machine, and the state directory."""
        if self._here:
            for program in REQUIRED_PROGRAMS:
                program.require()  # MissingProgramError names the Debian package
            try:
                await asyncio.to_thread(Path(self.state_dir).mkdir, parents=True, exist_ok=True)
            except OSError as e:
                raise TopologyError(self._name, f"cannot create state directory {self.state_dir}: {e}") from e
            return False
        return await prepare_role(
            self.host, REQUIRED_PACKAGES, self.state_dir, role="a monitoring host", where=self._name
        )

    async def close(self) -> None:
        await self.host.close()

    def run_lock(self) -> RunLock:
        """Runs on this box take turns: on the box itself when remote, a lock file in the state directory here."""
        if self._here:
            return LocalRunLock(Path(self.state_dir) / "run.lock", topology=self._name)
        return self.host.connector.run_lock()

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
