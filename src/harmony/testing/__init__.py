"""Helpers for testing your own deploy packages against real machines, the way Harmony tests its own.

    from harmony.testing import converge
    first, second = await converge(deployment)   # SUCCESS (or NOOP), then all NOOP, else AssertionError

They go through the same Maestro as ``harmony apply``: no shortcut around the Scores. A deployment on a
``HostGroup`` goes through ``apply_on_hosts`` / ``converge_on_hosts`` instead (one report per host).
``harmony.testing.ssh_lab`` starts SSH hosts in network namespaces to test against.
"""

from __future__ import annotations

from typing import cast

from harmony.domain.deployment import Deployment
from harmony.domain.errors import DeploymentError
from harmony.domain.host_group import HostGroup
from harmony.domain.outcome import Status
from harmony.domain.topology import Topology
from harmony.maestro.fanout import GroupReport, run_group
from harmony.maestro.journal import Journal
from harmony.maestro.runner import Maestro, RunReport


async def apply[T: Topology](deployment: Deployment[T], *, journal: Journal | None = None) -> RunReport:
    """Apply a deployment with its smoke tests; raise ``AssertionError`` with every failure if it fails."""
    deployment.validate()
    topology = deployment.topology
    if isinstance(topology, HostGroup):
        raise DeploymentError("a deployment on a HostGroup is applied with apply_on_hosts / converge_on_hosts")
    report = await Maestro(topology, journal=journal).apply(deployment.scores, smoke_tests=deployment.smoke_tests)
    if report.status is Status.FAILURE:
        raise AssertionError(describe_failure(report))
    return report


async def converge[T: Topology](
    deployment: Deployment[T], *, journal: Journal | None = None
) -> tuple[RunReport, RunReport]:
    """Apply twice: the first must not fail, the second must be all NOOP (idempotence)."""
    first = await apply(deployment, journal=journal)
    second = await apply(deployment, journal=journal)
    changed = [r.score for r in second.results if r.outcome is None or r.outcome.status is not Status.NOOP]
    if changed:
        raise AssertionError(f"second apply was not a NOOP for: {', '.join(changed)}")
    return first, second


async def apply_on_hosts[T: Topology](deployment: Deployment[T], *, journal: Journal | None = None) -> GroupReport:
    """Apply a ``HostGroup`` deployment on every host; raise ``AssertionError`` naming each failed host."""
    deployment.validate()
    group = deployment.topology
    if not isinstance(group, HostGroup):
        raise DeploymentError("apply_on_hosts needs a deployment on a HostGroup; use apply for one topology")
    report = await run_group(
        cast(HostGroup[T], group),
        deployment.scores_on,
        mode="apply",
        journal=journal,
        smoke_tests=deployment.smoke_tests,
    )
    if report.status is Status.FAILURE:
        raise AssertionError(
            "\n".join(
                describe_failure(h.report) if h.report else f"{h.host}: {h.error or h.skipped}"
                for h in report.hosts
                if h.status is not Status.SUCCESS and h.status is not Status.NOOP
            )
        )
    return report


async def converge_on_hosts[T: Topology](
    deployment: Deployment[T], *, journal: Journal | None = None
) -> tuple[GroupReport, GroupReport]:
    """Apply twice on every host: the first must not fail, the second must be all NOOP on every host."""
    first = await apply_on_hosts(deployment, journal=journal)
    second = await apply_on_hosts(deployment, journal=journal)
    changed = [h.host for h in second.hosts if h.status is not Status.NOOP]
    if changed:
        raise AssertionError(f"second apply was not a NOOP on: {', '.join(changed)}")
    return first, second


def describe_failure(report: RunReport) -> str:
    lines = [f"run {report.run_id} failed" + (f": {report.error}" if report.error else "")]
    for r in report.results:
        if r.outcome is not None and r.outcome.status is Status.FAILURE:
            message = r.outcome.message
            lines.append(f"  {message}" if message.startswith(r.score) else f"  {r.score}: {message}")
            lines.extend(f"    {d}" for d in r.outcome.details)
    return "\n".join(lines)
