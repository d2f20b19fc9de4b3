"""Reading a firewall policy without a firewall: shadowed rules and who can reach a port, as tables."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.deployment import Deployment
from harmony.domain.firewall_analysis import Shadow, covers, opened_host_ports, reaches_host, shadows
from harmony.domain.names import ResourceName
from harmony.domain.values import Port
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

LAN = Zone(name=ResourceName("lan"), interfaces=("eth1",))
WAN = Zone(name=ResourceName("wan"), interfaces=("eth0",))


def rule(action: str, src: Zone, dst: Zone, protocol: str = "any", *ports: int) -> Rule:
    return Rule.model_validate(
        {"action": action, "source": src, "destination": dst, "protocol": protocol, "ports": [Port(p) for p in ports]}
    )


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (rule("allow", LAN, WAN), rule("deny", LAN, WAN, "tcp", 25), True),
        (rule("allow", LAN, WAN, "tcp"), rule("deny", LAN, WAN, "tcp", 25), True),
        (rule("allow", LAN, WAN, "tcp", 25, 465), rule("deny", LAN, WAN, "tcp", 25), True),
        (rule("allow", LAN, WAN, "tcp", 25), rule("deny", LAN, WAN, "tcp", 25, 465), False),
        (rule("allow", LAN, WAN, "tcp", 25), rule("deny", LAN, WAN, "tcp"), False),
        (rule("allow", LAN, WAN, "tcp"), rule("deny", LAN, WAN, "udp", 53), False),
        (rule("allow", LAN, WAN, "tcp"), rule("deny", LAN, WAN), False),
        (rule("allow", WAN, LOCAL), rule("deny", LAN, LOCAL), False),
    ],
)
def test_a_rule_covers_another_only_when_it_matches_all_its_traffic(first: Rule, second: Rule, expected: bool) -> None:
    assert covers(first, second) is expected


def test_each_shadowed_rule_is_reported_once_with_the_first_rule_that_covers_it() -> None:
    policy = FirewallPolicy(
        zones=(LAN, WAN),
        rules=(
            rule("allow", LAN, WAN, "tcp"),
            rule("allow", LAN, WAN),
            rule("deny", LAN, WAN, "tcp", 25),
            rule("allow", LAN, WAN, "tcp", 443),
        ),
    )
    found = list(shadows(policy))
    assert found == [Shadow(later=2, earlier=0), Shadow(later=3, earlier=0)]
    assert [s.same_action(policy) for s in found] == [False, True]


@pytest.mark.parametrize(
    ("rules", "default_deny", "port", "expected"),
    [
        ((rule("allow", WAN, LOCAL, "tcp", 22),), True, 22, True),
        ((rule("allow", WAN, LOCAL, "tcp", 22),), True, 2222, False),
        ((rule("deny", WAN, LOCAL, "tcp", 22), rule("allow", WAN, LOCAL)), True, 22, False),
        ((rule("deny", WAN, LOCAL, "tcp", 22), rule("allow", LAN, LOCAL)), True, 22, True),
        ((rule("allow", LAN, LOCAL, "udp", 22),), True, 22, False),
        ((), False, 22, True),
        ((rule("deny", WAN, LOCAL), rule("deny", LAN, LOCAL)), False, 22, True),
    ],
)
def test_a_port_is_reachable_when_some_zone_is_allowed_first(
    rules: tuple[Rule, ...], default_deny: bool, port: int, expected: bool
) -> None:
    policy = FirewallPolicy(zones=(LAN, WAN), rules=rules, default_deny=default_deny)
    assert reaches_host(policy, "tcp", port) is expected


def test_the_ports_allow_rules_open_on_the_host() -> None:
    policy = FirewallPolicy(
        zones=(LAN, WAN),
        rules=(
            rule("allow", LAN, LOCAL, "udp", 53, 67),
            rule("deny", WAN, LOCAL, "tcp", 22),
            rule("allow", LAN, WAN, "tcp", 443),
            rule("allow", LAN, LOCAL, "icmp"),
            rule("allow", WAN, LOCAL, "tcp", 443),
        ),
    )
    assert list(opened_host_ports(policy)) == [(0, "udp", 53), (0, "udp", 67), (4, "tcp", 443)]


def _router_deployment(tmp_path: Path, *rules: Rule) -> Deployment[EdgeRouter]:
    router = EdgeRouter(name="edge", state_dir=tmp_path / "edge", netns="edge")
    web = Frontend(
        name=ResourceName("web"),
        port=Port(443),
        mode="tcp",
        backends=(Backend(name=ResourceName("a"), address=IPv4Address("10.0.0.21"), port=Port(8443)),),
    )
    firewall = FirewallRules(policy=FirewallPolicy(zones=(LAN, WAN), rules=rules))
    return Deployment(topology=router, scores=[LoadBalancing(frontends=(web,)), firewall])


def test_an_allow_rule_for_a_port_nothing_serves_is_a_warning(tmp_path: Path) -> None:
    deployment = _router_deployment(
        tmp_path,
        rule("allow", LAN, LOCAL, "udp", 53, 67),
        rule("allow", LAN, LOCAL, "tcp", 22, 443, 8080),
    )
    found = deployment.findings()
    assert [(f.severity, f.rule, f.field) for f in found] == [
        ("warning", "firewall_opens_unused_port", "policy.rules[1]")
    ]
    assert "opens tcp/8080 on edge, where no Score listens on it" in found[0].message


def test_ports_served_by_scores_the_router_or_its_ssh_are_not_called_unused(tmp_path: Path) -> None:
    deployment = _router_deployment(
        tmp_path, rule("allow", LAN, LOCAL, "udp", 53, 67, 69), rule("allow", LAN, LOCAL, "tcp", 22, 53, 443)
    )
    assert deployment.findings() == []
