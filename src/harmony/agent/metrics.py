"""The failover agent's metrics: heartbeats, fenced state, role, promotions (who took over from whom).

Series names are the contract with the default alert pack (``harmony.modules.monitoring.pack``); the
``cluster`` and ``node`` labels come from the scrape targets (``failover_agent_targets``).
"""

from __future__ import annotations

import time

from harmony.infra.metrics_endpoint import MetricsEndpoint
from harmony.modules.monitoring.pack import FENCED, LAST_PROMOTION

TASK_CRASHES = "harmony_agent_task_crashes"


class FailoverMetrics:
    def __init__(self) -> None:
        self.endpoint = MetricsEndpoint()
        e = self.endpoint
        self._heartbeats = e.counter("harmony_failover_heartbeats", "heartbeats this agent wrote to the mesh")
        self._heartbeat_failures = e.counter("harmony_failover_heartbeat_failures", "heartbeats the mesh refused")
        self._fenced = e.gauge(FENCED, "1 while this node has fenced itself (its server refuses clients)")
        self._primary = e.gauge("harmony_failover_primary", "1 while this node's server runs as primary")
        self._promotions = e.counter("harmony_failover_promotions", "times this node promoted itself")
        self._last_promotion = e.gauge(
            LAST_PROMOTION, "when this node last took over as primary", labels=("old_primary", "new_primary")
        )
        self._crashes = e.counter(
            TASK_CRASHES, "crashes of this agent's tasks (each one restarted or fatal)", ("task",)
        )

    def task_crashed(self, task: str, _error: BaseException) -> None:
        self._crashes.labels(task=task).inc()

    def tick(self, *, heartbeat_ok: bool, fenced: bool, primary: bool) -> None:
        (self._heartbeats if heartbeat_ok else self._heartbeat_failures).inc()
        self._fenced.set(1 if fenced else 0)
        self._primary.set(1 if primary else 0)

    def fenced(self) -> None:
        self._fenced.set(1)

    def promoted(self, *, old_primary: str, new_primary: str) -> None:
        self._promotions.inc()
        self._last_promotion.labels(old_primary=old_primary, new_primary=new_primary).set(time.time())
