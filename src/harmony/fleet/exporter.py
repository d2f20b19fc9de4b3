"""The fleet control side's ``/metrics``: rollout progress and halted rollouts, read from the fleet's records.

``observe_rollouts`` reads every deployment's status once (the live view the control side keeps anyway)
and sets the gauges; ``harmony fleet metrics`` runs it every few seconds behind a listener. A deployment
that is undeployed keeps its last values (the record stays, phase ``aborted``).
"""

from __future__ import annotations

import asyncio

from harmony.fleet.control import FleetControl
from harmony.fleet.metrics import RolloutMetrics


async def observe_rollouts(control: FleetControl, metrics: RolloutMetrics) -> None:
    """Set the rollout gauges from every deployment's current status."""
    for deployment in await control.deployments():
        s = await control.status(deployment)
        by_state = {
            "targeted": s.targeted,
            "updated": s.updated,
            "healthy": s.healthy,
            "failed": s.failed,
            "offline": s.offline,
        }
        metrics.progress(deployment, by_state=by_state, halted=s.phase == "halted")


async def export_rollouts(
    control: FleetControl, metrics: RolloutMetrics, *, interval: float, stop: asyncio.Event
) -> None:
    """``observe_rollouts`` every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        await observe_rollouts(control, metrics)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            continue
