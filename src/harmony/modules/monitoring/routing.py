"""``AlertRoutes``: the alert router's receivers, routes and inhibitions, checked by the router at plan time.

Plans and outcomes show receivers by name and secrets masked; a change of a secret alone is reported as
such, without its value.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Literal

from harmony.domain.capabilities.alerting import AlertRouter, AlertRouting
from harmony.domain.change import Change
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score


class AlertRoutes(Score[AlertRouter]):
    """The router delivers alerts as ``routing`` says."""

    kind: Literal["alert_routes"] = "alert_routes"
    routing: AlertRouting

    @property
    def name(self) -> str:
        return "alert-routes"

    def interpret(self) -> Interpret[AlertRouter]:
        return _AlertRoutesInterpret(self)


def plan_routing(desired: AlertRouting, current: AlertRouting | None) -> list[Change]:
    """One change for the routing as a whole, its diff masked (secrets never appear)."""
    after = desired.model_dump_json(indent=1).splitlines(keepends=True)
    if current is None:
        return [Change.create("alert routing", "".join(f"+ {line}" for line in after))]
    if current == desired:
        return []
    before = current.model_dump_json(indent=1).splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(before, after, "applied", "desired"))
    return [Change.update("alert routing", diff or "a receiver secret changed (values not shown)\n")]


class _AlertRoutesInterpret(Interpret[AlertRouter]):
    def __init__(self, score: AlertRoutes) -> None:
        self.score = score

    async def plan(self, topology: AlertRouter) -> Sequence[Change]:
        current = await topology.alert_routing()
        if current != self.score.routing:  # the routing as applied passed this check then
            await topology.check_alert_routing(self.score.routing)
        return plan_routing(self.score.routing, current)

    async def apply(self, topology: AlertRouter, changes: Sequence[Change]) -> Outcome:
        await topology.apply_alert_routing(self.score.routing)
        r = self.score.routing
        return Outcome.success(f"alert routing: {len(r.receivers)} receivers, {len(r.routes)} routes")
