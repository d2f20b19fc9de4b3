"""Metrics of the fleet: a device agent's (heartbeats, reconciles, deployments by phase) and the control
side's (rollout progress, halted rollouts).

Series names are the contract with the default alert pack; the ``device`` label comes from the scrape
targets (``fleet_device_targets``), not from the agent.
"""

from __future__ import annotations

from collections.abc import Mapping

from harmony.agent.metrics import TASK_CRASHES
from harmony.infra.metrics_endpoint import MetricsEndpoint
from harmony.modules.monitoring.pack import ROLLOUT_HALTED

PHASES = ("applying", "running", "failed", "rejected")


class DeviceMetrics:
    def __init__(self) -> None:
        self.endpoint = MetricsEndpoint()
        e = self.endpoint
        self._heartbeats = e.counter("harmony_device_heartbeats", "heartbeats this device agent sent")
        self._reconciles = e.histogram(
            "harmony_device_reconcile_seconds",
            "time to converge one deployment (plan, apply if needed, health gate)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self._failures = e.counter("harmony_device_reconcile_failures", "reconciles that ended in a failed state")
        self._deployments = e.gauge("harmony_device_deployments", "deployments on this device by phase", ("phase",))
        self._crashes = e.counter(TASK_CRASHES, "crashes of this agent's tasks (each one restarted)", ("task",))
        self._by_phase = {phase: self._deployments.labels(phase=phase) for phase in PHASES}  # set every heartbeat
        self._last: dict[str, int] = {}

    def task_crashed(self, task: str, _error: BaseException) -> None:
        self._crashes.labels(task=task).inc()

    def heartbeat(self) -> None:
        self._heartbeats.inc()

    def reconciled(self, *, seconds: float, failed: bool) -> None:
        self._reconciles.observe(seconds)
        if failed:
            self._failures.inc()

    def deployments(self, by_phase: Mapping[str, int]) -> None:
        for phase, gauge in self._by_phase.items():
            count = by_phase.get(phase, 0)
            if self._last.get(phase) != count:  # every heartbeat asks; a gauge's set takes a lock
                self._last[phase] = count
                gauge.set(count)


class RolloutMetrics:
    def __init__(self) -> None:
        self.endpoint = MetricsEndpoint()
        e = self.endpoint
        self._halted = e.gauge(ROLLOUT_HALTED, "1 while a rollout is halted by its failure budget", ("deployment",))
        self._devices = e.gauge("harmony_rollout_devices", "devices of a rollout by state", ("deployment", "state"))
        self._active = e.gauge(
            "harmony_fleet_controller_active", "1 while this fleet serve controller holds the lease", ("controller",)
        )
        self._connected = e.gauge(
            "harmony_fleet_controller_connected", "1 while this fleet serve controller reaches NATS", ("controller",)
        )

    def progress(self, deployment: str, *, by_state: Mapping[str, int], halted: bool) -> None:
        for state, count in by_state.items():
            self._devices.labels(deployment=deployment, state=state).set(count)
        self._halted.labels(deployment=deployment).set(1 if halted else 0)

    def controller(self, name: str, *, active: bool, connected: bool) -> None:
        self._active.labels(controller=name).set(1 if active else 0)
        self._connected.labels(controller=name).set(1 if connected else 0)
