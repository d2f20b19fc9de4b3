"""What a firewall policy does, read without a firewall: which rules can never match, and who can reach a port.

Rules are evaluated in order and the first match decides (``capabilities.firewall``), so a rule whose every
packet an earlier rule already matches never applies. Traffic is described by its source and destination
zones, its protocol and its ports; zones are compared by name and definition, never by overlapping networks,
so what is reported here is certain, and what is not reported may still overlap (two zones sharing a range).

Pure: ``consistency`` turns these answers into findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Transport


@dataclass(frozen=True)
class Shadow:
    """Rule ``later`` (0-based) never applies: every packet it matches, rule ``earlier`` matches first."""

    later: int
    earlier: int

    def same_action(self, policy: FirewallPolicy) -> bool:
        return policy.rules[self.later].action == policy.rules[self.earlier].action


def covers(first: Rule, second: Rule) -> bool:
    """True when ``first`` matches every packet ``second`` matches."""
    if first.source != second.source or first.destination != second.destination:
        return False
    if first.protocol != "any" and first.protocol != second.protocol:
        return False
    if not first.ports:
        return True
    return bool(second.ports) and set(second.ports) <= set(first.ports)


def shadows(policy: FirewallPolicy) -> Iterator[Shadow]:
    """Each rule that an earlier rule covers entirely, with the first such earlier rule."""
    for j, rule in enumerate(policy.rules):
        for i, earlier in enumerate(policy.rules[:j]):
            if covers(earlier, rule):
                yield Shadow(later=j, earlier=i)
                break


def _decides(rule: Rule, protocol: Transport, port: int) -> bool:
    return rule.destination.is_local and rule.protocol in (protocol, "any") and (not rule.ports or port in rule.ports)


def reaches_host(policy: FirewallPolicy, protocol: Transport, port: int) -> bool:
    """True when a new connection to this host's ``protocol``/``port`` is accepted from at least one zone.

    Without ``default_deny``, traffic no rule matches (from outside every zone, say) is accepted, so only a
    default-deny policy can be said to cut a port off.
    """
    if not policy.default_deny:
        return True
    for zone in policy.zones:
        first = next((r for r in policy.rules if r.source == zone and _decides(r, protocol, port)), None)
        if first is not None and first.action == "allow":
            return True
    return False


def opened_host_ports(policy: FirewallPolicy) -> Iterator[tuple[int, Transport, int]]:
    """``(rule index, protocol, port)`` for each port an allow rule opens on this host (rules naming ports)."""
    for i, rule in enumerate(policy.rules):
        if rule.action != "allow" or rule.destination != LOCAL or rule.protocol not in ("tcp", "udp"):
            continue
        transport: Transport = "tcp" if rule.protocol == "tcp" else "udp"
        for port in rule.ports:
            yield i, transport, int(port)
