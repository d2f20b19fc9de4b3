"""Helpers for testing your own deploy packages against real machines, the way Harmony tests its own.

    from harmony.testing import converge
    first, second = await converge(deployment)   # SUCCESS (or NOOP), then all NOOP, else AssertionError

They go through the same Maestro as ``harmony apply``: no shortcut around the Scores.
"""

from __future__ import annotations

from harmony.domain.deployment import Deployment
from harmony.domain.outcome import Status
from harmony.domain.topology import Topology
from harmony.maestro.journal import Journal
from harmony.maestro.runner import Maestro, RunReport


async def apply[T: Topology](deployment: Deployment[T], *, journal: Journal | None = None) -> RunReport:
    """Apply a deployment with its smoke tests; raise ``AssertionError`` with every failure if it fails."""
    deployment.validate()
    report = await Maestro(deployment.topology, journal=journal).apply(
        deployment.scores, smoke_tests=deployment.smoke_tests
    )
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


def describe_failure(report: RunReport) -> str:
    lines = [f"run {report.run_id} failed" + (f": {report.error}" if report.error else "")]
    for r in report.results:
        if r.outcome is not None and r.outcome.status is Status.FAILURE:
            message = r.outcome.message
            lines.append(f"  {message}" if message.startswith(r.score) else f"  {r.score}: {message}")
            lines.extend(f"    {d}" for d in r.outcome.details)
    return "\n".join(lines)
