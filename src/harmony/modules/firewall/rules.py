"""``FirewallRules``: the whole policy of one firewall, and the endpoints it must never cut off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from harmony.domain.capabilities.firewall import Endpoint, Firewall, FirewallPolicy, FirewallState, Zone
from harmony.domain.change import Change
from harmony.domain.claims import Claim, FirewallClaim, ForwardClaim
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.keyed_diff import keyed_changes


class FirewallRules(Score[Firewall]):
    """``policy`` is the firewall's whole ruleset after apply.

    ``must_reach`` lists the endpoints through which the firewall is managed (SSH, an API): after the
    switch each must still accept a TCP connection, or the previous ruleset comes back and the apply fails.
    """

    kind: Literal["firewall_rules"] = "firewall_rules"
    policy: FirewallPolicy
    must_reach: tuple[Endpoint, ...] = ()

    @property
    def name(self) -> str:
        return "firewall"

    def claims(self) -> Sequence[Claim]:
        forwards = [
            ForwardClaim(f.port, f.protocol, f"port forward {f.describe()}", f"policy.port_forwards[{i}]")
            for i, f in enumerate(self.policy.port_forwards)
        ]
        return (FirewallClaim(self.policy, tuple(int(e.port) for e in self.must_reach)), *forwards)

    def interpret(self) -> Interpret[Firewall]:
        return FirewallRulesInterpret(self)


class FirewallRulesInterpret(Interpret[Firewall]):
    def __init__(self, score: FirewallRules) -> None:
        self.score = score

    async def plan(self, topology: Firewall) -> Sequence[Change]:
        return plan_firewall(self.score.policy, await topology.firewall_state())

    async def apply(self, topology: Firewall, changes: Sequence[Change]) -> Outcome:
        await topology.apply_firewall_policy(self.score.policy, must_reach=self.score.must_reach)
        reached = ", ".join(str(e) for e in self.score.must_reach) or "no endpoint"
        return Outcome.success(f"firewall policy active; still reachable: {reached}", *(c.target for c in changes))


def _zone(z: Zone) -> str:
    parts = [*z.interfaces, *map(str, z.networks)]
    return f"{z.name}: {', '.join(parts)}"


def _numbered(items: Sequence[str]) -> dict[str, str]:
    return {f"#{i}": text for i, text in enumerate(items, 1)}


def plan_firewall(desired: FirewallPolicy, state: FirewallState) -> list[Change]:
    """Zones, rules (by position: order matters), forwards and NAT an apply would change (pure)."""
    current = state.policy
    changes = keyed_changes(
        "firewall zone",
        {z.name: _zone(z) for z in current.zones} if current else {},
        {z.name: _zone(z) for z in desired.zones},
    )
    for what, before, after in (
        (
            "firewall rule",
            [r.describe() for r in current.rules] if current else [],
            [r.describe() for r in desired.rules],
        ),
        (
            "firewall forward",
            [f.describe() for f in current.port_forwards] if current else [],
            [f.describe() for f in desired.port_forwards],
        ),
        (
            "firewall nat",
            [m.describe() for m in current.masquerade] if current else [],
            [m.describe() for m in desired.masquerade],
        ),
    ):
        if before != after:
            changes += keyed_changes(what, _numbered(before), _numbered(after))
    deny = {True: "deny", False: "allow"}
    if current is None or current.default_deny != desired.default_deny:
        was = "none" if current is None else deny[current.default_deny]
        changes.append(Change.update("firewall default", f"unmatched traffic: {was} -> {deny[desired.default_deny]}\n"))
    if current is not None and current != desired and not changes:
        changes.append(Change.update("firewall policy", "zone or rule details changed\n"))
    if current is not None and current == desired and not state.in_sync:
        changes.append(
            Change.update("firewall ruleset", "the live ruleset differs from the last applied policy; reload it\n")
        )
    return changes
