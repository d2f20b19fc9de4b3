"""``MetricsServer`` and ``HostMetrics``: a metrics collector's own settings, and a host's exporter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from pydantic import Field

from harmony.domain.capabilities.metrics import (
    CollectorSettings,
    Duration,
    HostExporterSettings,
    HostMetricsExporter,
    LabelName,
    Labels,
    MetricsCollector,
    ServiceAddress,
)
from harmony.domain.change import Change
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.values import Port
from harmony.modules.keyed_diff import field_changes


class MetricsServer(Score[MetricsCollector]):
    """A running metrics collector: default scrape and evaluation intervals, retention, and the alert
    routers it sends firing alerts to."""

    kind: Literal["metrics_server"] = "metrics_server"
    scrape_interval: Duration = timedelta(seconds=15)
    evaluation_interval: Duration = timedelta(seconds=15)
    retention: Duration = timedelta(days=15)
    alert_routers: tuple[ServiceAddress, ...] = ()
    external_labels: Labels = Field(default_factory=dict[LabelName, str])

    @property
    def name(self) -> str:
        return "metrics-server"

    def settings(self) -> CollectorSettings:
        return CollectorSettings.model_validate(self.model_dump(exclude={"kind"}))

    def interpret(self) -> Interpret[MetricsCollector]:
        return _MetricsServerInterpret(self)


class _MetricsServerInterpret(Interpret[MetricsCollector]):
    def __init__(self, score: MetricsServer) -> None:
        self.score = score

    async def plan(self, topology: MetricsCollector) -> Sequence[Change]:
        current = await topology.collector_settings()
        desired = self.score.settings()
        if current is None:
            return [Change.create("metrics collector", f"+ start: {desired.model_dump_json()}\n")]
        return field_changes("metrics collector", current.model_dump(mode="json"), desired.model_dump(mode="json"))

    async def apply(self, topology: MetricsCollector, changes: Sequence[Change]) -> Outcome:
        await topology.apply_collector_settings(self.score.settings())
        return Outcome.success("metrics collector configured", *(c.target for c in changes))


class HostMetrics(Score[HostMetricsExporter]):
    """The host's own metrics (CPU, memory, file systems, network) served on ``port`` for scraping."""

    kind: Literal["host_metrics"] = "host_metrics"
    port: Port = Port(9100)

    @property
    def name(self) -> str:
        return "host-metrics"

    def interpret(self) -> Interpret[HostMetricsExporter]:
        return _HostMetricsInterpret(self)


class _HostMetricsInterpret(Interpret[HostMetricsExporter]):
    def __init__(self, score: HostMetrics) -> None:
        self.score = score

    async def plan(self, topology: HostMetricsExporter) -> Sequence[Change]:
        current = await topology.host_metrics_exporter()
        if current is None:
            return [Change.create("host metrics exporter", f"+ serve on port {self.score.port}\n")]
        return field_changes("host metrics exporter", {"port": current.port}, {"port": self.score.port})

    async def apply(self, topology: HostMetricsExporter, changes: Sequence[Change]) -> Outcome:
        await topology.apply_host_metrics_exporter(HostExporterSettings(port=self.score.port))
        return Outcome.success(f"host metrics on port {self.score.port}")
