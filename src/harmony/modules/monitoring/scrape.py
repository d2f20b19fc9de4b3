"""``Scrape``: one scrape job and its targets; builders for targets from the inventory, a fleet, failover agents.

Changing only the targets (a device joined) reaches the collector without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from harmony.domain.capabilities.metrics import (
    MetricsCollector,
    ScrapeJob,
    ScrapeTarget,
    ServiceAddress,
    format_duration,
)
from harmony.domain.change import Change
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.inventory import Inventory
from harmony.domain.outcome import Outcome
from harmony.domain.score import AnyScore, Score
from harmony.domain.values import Port
from harmony.modules.keyed_diff import field_changes, keyed_changes


class Scrape(Score[MetricsCollector]):
    """The collector scrapes ``job``'s targets (``present=False``: the job is removed)."""

    kind: Literal["scrape"] = "scrape"
    job: ScrapeJob
    present: bool = True

    @property
    def name(self) -> str:
        return f"scrape:{self.job.name}"

    @classmethod
    def check_alongside(cls, scores: Sequence[AnyScore]) -> None:
        seen: set[str] = set()
        for s in scores:
            if isinstance(s, Scrape):
                if s.job.name in seen:
                    raise InvalidValueError("scrape job name", s.job.name, "each job in one Scrape Score")
                seen.add(s.job.name)

    def interpret(self) -> Interpret[MetricsCollector]:
        return _ScrapeInterpret(self)


def _describe(target: ScrapeTarget) -> str:
    labels = ",".join(f"{k}={v}" for k, v in sorted(target.labels.items()))
    return f"{target.address} {{{labels}}}"


def _settings(job: ScrapeJob) -> dict[str, object]:
    return {
        "interval": format_duration(job.interval) if job.interval else None,
        "timeout": format_duration(job.timeout) if job.timeout else None,
        "metrics_path": job.metrics_path,
    }


def plan_job(desired: ScrapeJob | None, current: ScrapeJob | None) -> list[Change]:
    """Target by target, then the job's settings (a pure diff, tested as a table)."""
    before = {t.address: _describe(t) for t in current.targets} if current else {}
    after = {t.address: _describe(t) for t in desired.targets} if desired else {}
    job = desired or current
    name = job.name if job is not None else ""
    changes = keyed_changes(f"scrape {name} target", before, after)
    if desired is not None and current is None:
        changes.insert(0, Change.create(f"scrape job {name}", f"+ job {name} ({len(desired.targets)} targets)\n"))
    elif desired is None and current is not None:
        changes.insert(0, Change.delete(f"scrape job {name}", f"- job {name}\n"))
    elif desired is not None and current is not None:
        changes += field_changes(f"scrape job {name}", _settings(current), _settings(desired))
    return changes


class _ScrapeInterpret(Interpret[MetricsCollector]):
    def __init__(self, score: Scrape) -> None:
        self.score = score

    async def plan(self, topology: MetricsCollector) -> Sequence[Change]:
        current = next((j for j in await topology.scrape_jobs() if j.name == self.score.job.name), None)
        return plan_job(self.score.job if self.score.present else None, current)

    async def apply(self, topology: MetricsCollector, changes: Sequence[Change]) -> Outcome:
        if not self.score.present:
            await topology.remove_scrape_job(self.score.job.name)
            return Outcome.success(f"scrape job {self.score.job.name} removed")
        await topology.put_scrape_job(self.score.job)
        return Outcome.success(f"scrape job {self.score.job.name}: {len(self.score.job.targets)} targets")


def inventory_targets(
    inventory: Inventory, *, port: Port, role: str | None = None, group: str | None = None
) -> tuple[ScrapeTarget, ...]:
    """One target per selected host at ``port``, labelled ``host`` and with the host's own labels."""
    return tuple(
        ScrapeTarget(host=h.address, port=port, labels={**h.labels, "host": str(h.name)})
        for h in inventory.select(role=role, group=group)
    )


def fleet_device_targets(devices: Mapping[str, ServiceAddress]) -> tuple[ScrapeTarget, ...]:
    """One target per fleet device (its agent's metrics address), labelled ``device``."""
    return tuple(ScrapeTarget(host=a.host, port=a.port, labels={"device": name}) for name, a in sorted(devices.items()))


def failover_agent_targets(cluster: str, agents: Mapping[str, ServiceAddress]) -> tuple[ScrapeTarget, ...]:
    """One target per failover agent (node id → its metrics address), labelled ``cluster`` and ``node``."""
    return tuple(
        ScrapeTarget(host=a.host, port=a.port, labels={"cluster": cluster, "node": node})
        for node, a in sorted(agents.items())
    )
