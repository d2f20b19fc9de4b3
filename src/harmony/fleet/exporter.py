"""The fleet control side's ``/metrics``: rollout progress and halted rollouts, read from the fleet's records.

``observe_rollouts`` reads every deployment's status once (the live view the control side keeps anyway)
and sets the gauges; ``harmony fleet metrics`` runs it every few seconds behind a listener, and
``harmony fleet serve --metrics`` does too (``export_controller``), with the controller's own state. A
deployment that is undeployed keeps its last values (the record stays, phase ``aborted``).
"""

from __future__ import annotations

import asyncio
import logging

from harmony.domain.errors import KeyValueError
from harmony.fleet.control import FleetControl
from harmony.fleet.controller import Controller
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


async def export_controller(
    controller: Controller, metrics: RolloutMetrics, *, interval: float, stop: asyncio.Event
) -> None:
    """Every ``interval`` seconds until ``stop``: the controller's state, and the rollouts once it reaches NATS
    (while NATS is unreachable the rollout gauges keep their last values)."""
    while not stop.is_set():
        metrics.controller(controller.name, active=controller.is_active(), connected=controller.connected)
        if controller.control is not None and controller.connected:
            try:
                await observe_rollouts(controller.control, metrics)
            except KeyValueError as e:
                logging.getLogger("harmony.fleet.exporter").debug("rollout metrics not refreshed: %s", e)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            continue
