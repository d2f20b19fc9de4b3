"""``MetricsCollector`` and ``HostMetricsExporter``: scraping metrics, evaluating alert rules, exposing a host.

A metrics collector scrapes *jobs* (a named set of targets, each ``host:port`` with labels) and evaluates
*alert rule groups*; firing alerts go to the alert routers named in its settings.

Consistency contract (``MetricsCollector``):
- ``collector_settings``, ``scrape_jobs`` and ``alert_rule_groups`` only read; they return what the
  collector runs with now.
- ``put_scrape_job`` replaces the job of the same name. A change of targets only is picked up without a
  restart (file-based discovery); a new job or a changed interval reloads the configuration.
- ``check_alert_rule_group`` validates a group (expressions parse, templates render, the group's own rule
  tests pass) without changing anything; ``put_alert_rule_group`` checks the same, then replaces the group.
  A rejected group changes nothing and raises ``MetricsError`` naming the group and the collector's reason.
- Every ``remove_*`` of a missing name is not an error.
Not guaranteed: that targets are reachable, or how long after a put the first scrape or evaluation happens
(one scrape / evaluation interval in practice).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Protocol, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from harmony.domain.errors import InvalidValueError
from harmony.domain.names import ResourceName
from harmony.domain.units import Duration as Duration  # re-exported: where monitoring code finds it
from harmony.domain.units import format_duration as format_duration
from harmony.domain.values import Hostname, IPAddress, Port

_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def label_name(value: str) -> str:
    if not _LABEL.match(value) or value.startswith("__"):
        raise InvalidValueError("label name", value, "letters, digits and '_', not starting with a digit or '__'")
    return value


type LabelName = Annotated[str, AfterValidator(label_name)]
type Labels = Mapping[LabelName, str]


class Severity(StrEnum):
    """How urgent an alert is; routes and inhibitions match on it (label ``severity``)."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScrapeTarget(_Model):
    """One endpoint serving metrics; ``labels`` are attached to every series scraped from it."""

    host: IPAddress | Hostname
    port: Port
    labels: Labels = Field(default_factory=dict[LabelName, str])

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in str(self.host) else f"{self.host}:{self.port}"


class ScrapeJob(_Model):
    """Targets scraped alike; ``name`` becomes the ``job`` label of their series."""

    name: ResourceName
    targets: tuple[ScrapeTarget, ...] = ()
    interval: Duration | None = Field(default=None, description="scrape interval (default: the collector's)")
    timeout: Duration | None = Field(default=None, description="scrape timeout (at most the interval)")
    metrics_path: str = Field(default="/metrics", pattern=r"^/[^\s]*$")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for t in self.targets:
            if t.address in seen:
                raise InvalidValueError(f"scrape job {self.name}: targets", t.address, "each target once per job")
            seen.add(t.address)
        if self.interval is not None and self.timeout is not None and self.timeout > self.interval:
            raise InvalidValueError(
                f"scrape job {self.name}: timeout", format_duration(self.timeout), "at most the interval"
            )
        return self

    def same_config(self, other: ScrapeJob) -> bool:
        """True when only the targets differ (a change file-based discovery picks up without a reload)."""
        return self.model_copy(update={"targets": ()}) == other.model_copy(update={"targets": ()})


class SeriesInput(_Model):
    """Input series of a rule test, in the collector's expanding notation: ``up{job="x"}`` = ``1 1 0x10``."""

    series: str = Field(min_length=1)
    values: str = Field(min_length=1)


class ExpectedAlert(_Model):
    labels: Labels = Field(default_factory=dict[LabelName, str])
    annotations: Labels = Field(default_factory=dict[LabelName, str])


class AlertRuleTest(_Model):
    """A unit test for one rule: given ``input_series``, at ``eval_time`` exactly ``expected`` alerts fire."""

    input_series: tuple[SeriesInput, ...]
    eval_time: Duration
    expected: tuple[ExpectedAlert, ...] = ()
    interval: Duration = timedelta(minutes=1)


class AlertRule(_Model):
    """An alert: fires when ``expr`` has results for ``for_``; labels and annotations may use templates."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the alert's name (alertname)")]
    expr: str = Field(min_length=1, description="a PromQL expression; each result series is one alert")
    for_: Duration = Field(default=timedelta(0), description="how long the expression must hold before firing")
    severity: Severity
    labels: Labels = Field(default_factory=dict[LabelName, str])
    annotations: Labels = Field(default_factory=dict[LabelName, str])
    tests: tuple[AlertRuleTest, ...] = Field(default=(), description="unit tests run when the rule is checked")

    @model_validator(mode="after")
    def _severity_once(self) -> Self:
        if "severity" in self.labels:
            raise InvalidValueError(f"alert {self.name}: labels", "severity", "the severity field, not a label")
        return self


class AlertRuleGroup(_Model):
    """Rules evaluated together every ``interval``; alert names are unique within the group."""

    name: ResourceName
    rules: tuple[AlertRule, ...]
    interval: Duration | None = Field(default=None, description="evaluation interval (default: the collector's)")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [r.name for r in self.rules]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise InvalidValueError(f"alert rule group {self.name}: rules[{i}].name", name, "a unique alert name")
        return self


class ServiceAddress(_Model):
    """Where a service listens: ``host:port``."""

    host: IPAddress | Hostname
    port: Port

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in str(self.host) else f"{self.host}:{self.port}"


class CollectorSettings(_Model):
    """How the collector runs: default intervals, retention, and the alert routers firing alerts go to."""

    scrape_interval: Duration = timedelta(seconds=15)
    evaluation_interval: Duration = timedelta(seconds=15)
    retention: Duration = timedelta(days=15)
    alert_routers: tuple[ServiceAddress, ...] = ()
    external_labels: Labels = Field(default_factory=dict[LabelName, str], description="e.g. site=office")


class MetricsCollector(Protocol):
    async def collector_settings(self) -> CollectorSettings | None:
        """The settings it runs with, or ``None`` when no collector is set up."""
        ...

    async def apply_collector_settings(self, settings: CollectorSettings) -> None:
        """Set up (or reconfigure) and start the collector."""
        ...

    async def scrape_jobs(self) -> Sequence[ScrapeJob]: ...

    async def put_scrape_job(self, job: ScrapeJob) -> None: ...

    async def remove_scrape_job(self, name: ResourceName) -> None: ...

    async def alert_rule_groups(self) -> Sequence[AlertRuleGroup]: ...

    async def check_alert_rule_group(self, group: AlertRuleGroup) -> None:
        """Raise ``MetricsError`` if the collector would reject ``group`` or one of its rule tests fails."""
        ...

    async def put_alert_rule_group(self, group: AlertRuleGroup) -> None: ...

    async def remove_alert_rule_group(self, name: ResourceName) -> None: ...


class HostExporterSettings(_Model):
    """A host's own metrics (CPU, memory, file systems, network) served on ``port``."""

    port: Port = Port(9100)


class HostMetricsExporter(Protocol):
    """Serves the host's own metrics for a collector to scrape. ``apply`` starts it (or restarts it with new
    settings); ``host_metrics_exporter`` is ``None`` while it does not run."""

    async def host_metrics_exporter(self) -> HostExporterSettings | None: ...

    async def apply_host_metrics_exporter(self, settings: HostExporterSettings) -> None: ...
