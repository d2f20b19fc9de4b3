"""Plan diffs of the edge Scores, as tables: observed state in, exact changes out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import harmony
from harmony.domain.capabilities.boot import BootScript
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet
from harmony.domain.capabilities.dns import AaaaRecord, ARecord, DnsRecordSet
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, FirewallState, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.change import Action
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, IPv6Address, MacAddress, Port
from harmony.modules.boot.scripts import plan_boot_scripts
from harmony.modules.dhcp.scope import plan_subnet
from harmony.modules.dns.zone import plan_record_set
from harmony.modules.firewall.rules import plan_firewall
from harmony.modules.load_balancer.service import plan_frontend, plan_removal

N = ResourceName
type Summary = list[tuple[str, str]]


def summary(changes: list[harmony.Change]) -> Summary:
    return [(c.action.value, c.target) for c in changes if c.action is not Action.NONE]


def a(name: str, addr: str) -> ARecord:
    return ARecord(name=Hostname(name), address=IPv4Address(addr))


def rs(*records: ARecord | AaaaRecord, ttl: int = 300) -> DnsRecordSet:
    return DnsRecordSet(owner=N("office"), zone=Hostname("office.lan"), records=records, ttl=ttl).sorted()


WEB = a("web.office.lan", "10.0.0.5")
DB = a("db.office.lan", "10.0.0.6")
V6 = AaaaRecord(name=Hostname("web.office.lan"), address=IPv6Address("fd00::5"))


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        (rs(WEB), rs(WEB), []),
        (
            rs(WEB, DB),
            None,
            [("create", "dns record A db.office.lan 10.0.0.6"), ("create", "dns record A web.office.lan 10.0.0.5")],
        ),
        (
            rs(WEB, V6),
            rs(WEB, DB),
            [("delete", "dns record A db.office.lan 10.0.0.6"), ("create", "dns record AAAA web.office.lan fd00::5")],
        ),
        (rs(WEB, ttl=60), rs(WEB), [("update", "dns record set office")]),
        (None, rs(WEB), [("delete", "dns record A web.office.lan 10.0.0.5")]),
        (None, None, []),
        (rs(), None, [("create", "dns zone office.lan")]),
    ],
    ids=["in-sync", "new", "add-and-remove", "ttl", "absent", "absent-and-gone", "empty-zone"],
)
def test_plan_record_set(desired: DnsRecordSet | None, current: DnsRecordSet | None, expected: Summary) -> None:
    assert summary(plan_record_set(desired, current)) == expected


NET = IPv4Network("10.0.0.0/24")


def subnet(
    *reservations: tuple[str, str], pools: tuple[tuple[int, int], ...] = ((100, 199),), lease: int = 3600
) -> DhcpSubnet:
    return DhcpSubnet(
        network=NET,
        pools=tuple(DhcpPool(start=IPv4Address(f"10.0.0.{s}"), end=IPv4Address(f"10.0.0.{e}")) for s, e in pools),
        reservations=tuple(DhcpReservation(mac=MacAddress(m), address=IPv4Address(ip)) for m, ip in reservations),
        lease_time=lease,
    )


M1, M2 = "52:54:00:00:00:01", "52:54:00:00:00:02"


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        (subnet((M1, "10.0.0.7")), subnet((M1, "10.0.0.7")), []),
        (
            subnet((M1, "10.0.0.7")),
            None,
            [
                ("create", "dhcp subnet 10.0.0.0/24"),
                ("create", "dhcp pool 10.0.0.100-10.0.0.199"),
                ("create", f"dhcp reservation {M1}"),
                ("update", "dhcp options 10.0.0.0/24"),
            ],
        ),
        (
            subnet((M1, "10.0.0.8"), (M2, "10.0.0.9")),
            subnet((M1, "10.0.0.7")),
            [("create", f"dhcp reservation {M2}"), ("update", f"dhcp reservation {M1}")],
        ),
        (
            subnet(pools=((100, 149), (150, 199))),
            subnet(),
            [
                ("delete", "dhcp pool 10.0.0.100-10.0.0.199"),
                ("create", "dhcp pool 10.0.0.100-10.0.0.149"),
                ("create", "dhcp pool 10.0.0.150-10.0.0.199"),
            ],
        ),
        (subnet(lease=600), subnet(), [("update", "dhcp options 10.0.0.0/24")]),
        (
            None,
            subnet((M1, "10.0.0.7")),
            [
                ("delete", "dhcp subnet 10.0.0.0/24"),
                ("delete", "dhcp pool 10.0.0.100-10.0.0.199"),
                ("delete", f"dhcp reservation {M1}"),
            ],
        ),
    ],
    ids=["in-sync", "new", "reservations", "pools", "lease-time", "absent"],
)
def test_plan_subnet(desired: DhcpSubnet | None, current: DhcpSubnet | None, expected: Summary) -> None:
    assert summary(plan_subnet(desired, current)) == expected


def test_plan_subnet_option_diff_names_old_and_new_values() -> None:
    (change,) = plan_subnet(subnet(lease=600), subnet())
    assert change.diff == "lease_time: 3600 -> 600\n"


DEFAULT = BootScript(content="#!ipxe\nexit\n")
NODE = BootScript(mac=MacAddress(M1), content="#!ipxe\necho node\n")


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        ([DEFAULT, NODE], [NODE, DEFAULT], []),
        ([DEFAULT, NODE], [DEFAULT], [("create", "boot script ipxe/52-54-00-00-00-01.ipxe")]),
        ([DEFAULT], [DEFAULT, NODE], [("delete", "boot script ipxe/52-54-00-00-00-01.ipxe")]),
        ([BootScript(content="#!ipxe\nshell\n")], [DEFAULT], [("update", "boot script ipxe/default.ipxe")]),
    ],
    ids=["in-sync", "add", "remove", "rewrite"],
)
def test_plan_boot_scripts(desired: list[BootScript], current: list[BootScript], expected: Summary) -> None:
    assert summary(plan_boot_scripts(desired, current)) == expected


def test_boot_script_rewrite_shows_a_text_diff() -> None:
    (change,) = plan_boot_scripts([BootScript(content="#!ipxe\nshell\n")], [DEFAULT])
    assert "-exit\n" in change.diff
    assert "+shell\n" in change.diff


def test_firewall_rule_change_shows_both_rules() -> None:
    changes = plan_firewall(FirewallPolicy(zones=(LAN,), rules=(WEBR,)), FirewallState(policy=P1, in_sync=True))
    assert [c.diff for c in changes] == ["- allow lan -> local tcp/22\n+ allow lan -> local tcp/80\n"]


def backend(name: str, port: int, state: str = "active") -> Backend:
    return Backend.model_validate({"name": name, "address": "10.0.0.5", "port": port, "state": state})


def fe(*backends: Backend, port: int = 80, balance: str = "roundrobin") -> Frontend:
    return Frontend.model_validate({"name": "web", "port": port, "balance": balance, "backends": backends})


BLUE, GREEN = backend("blue", 8001), backend("green", 8002)


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        (fe(BLUE, GREEN), fe(BLUE, GREEN), []),
        (fe(BLUE), None, [("create", "lb frontend web"), ("create", "lb backend web/blue")]),
        (fe(BLUE, GREEN), fe(BLUE), [("create", "lb backend web/green")]),
        (fe(GREEN), fe(BLUE, GREEN), [("delete", "lb backend web/blue")]),
        (fe(backend("blue", 8001, "draining"), GREEN), fe(BLUE, GREEN), [("update", "lb backend web/blue")]),
        (fe(BLUE, port=8080, balance="leastconn"), fe(BLUE), [("update", "lb frontend web")]),
    ],
    ids=["in-sync", "new", "add-backend", "remove-backend", "drain", "settings"],
)
def test_plan_frontend(desired: Frontend, current: Frontend | None, expected: Summary) -> None:
    assert summary(plan_frontend(desired, current)) == expected


def test_plan_removal_lists_the_frontend_and_its_backends() -> None:
    assert summary(plan_removal(fe(BLUE, GREEN))) == [
        ("delete", "lb frontend web"),
        ("delete", "lb backend web/blue"),
        ("delete", "lb backend web/green"),
    ]


def test_drain_plan_shows_the_state_change() -> None:
    (change,) = plan_frontend(fe(backend("blue", 8001, "draining")), fe(BLUE))
    assert change.diff == "- 10.0.0.5:8001 weight 1 active\n+ 10.0.0.5:8001 weight 1 draining\n"


LAN = Zone(name=N("lan"), interfaces=("br0",))
SSH = Rule(action="allow", source=LAN, destination=LOCAL, protocol="tcp", ports=(Port(22),))
WEBR = Rule(action="allow", source=LAN, destination=LOCAL, protocol="tcp", ports=(Port(80),))
P1 = FirewallPolicy(zones=(LAN,), rules=(SSH,))
P2 = FirewallPolicy(zones=(LAN,), rules=(SSH, WEBR))


@pytest.mark.parametrize(
    ("desired", "state", "expected"),
    [
        (P1, FirewallState(policy=P1, in_sync=True), []),
        (
            P1,
            FirewallState(policy=None, in_sync=True),
            [("create", "firewall zone lan"), ("create", "firewall rule #1"), ("update", "firewall default")],
        ),
        (P2, FirewallState(policy=P1, in_sync=True), [("create", "firewall rule #2")]),
        (
            FirewallPolicy(zones=(LAN,), rules=(WEBR, SSH)),
            FirewallState(policy=P2, in_sync=True),
            [
                ("update", "firewall rule #1"),
                ("update", "firewall rule #2"),
            ],
        ),
        (P1, FirewallState(policy=P1, in_sync=False), [("update", "firewall ruleset")]),
        (
            P1.model_copy(update={"default_deny": False}),
            FirewallState(policy=P1, in_sync=True),
            [("update", "firewall default")],
        ),
    ],
    ids=["in-sync", "first", "rule-added", "reordered", "drifted", "default-allow"],
)
def test_plan_firewall(desired: FirewallPolicy, state: FirewallState, expected: Summary) -> None:
    assert summary(plan_firewall(desired, state)) == expected


EDGE_MODULES = ["dns", "dhcp", "boot", "load_balancer", "firewall"]


@pytest.mark.parametrize("module", EDGE_MODULES)
def test_scores_import_nothing_from_adapters_or_topologies(module: str) -> None:
    """The swap test, enforced: edge Scores see capabilities only, never dnsmasq/HAProxy/nftables code."""
    root = Path(harmony.__file__).parent / "modules" / module
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("harmony.infra", "harmony.topology", "subprocess")), f"{path}: {name}"


@pytest.mark.parametrize("capability", ["dns", "dhcp", "boot", "load_balancer", "firewall", "edge"])
def test_capabilities_are_not_named_after_tools(capability: str) -> None:
    text = (Path(harmony.__file__).parent / "domain" / "capabilities" / f"{capability}.py").read_text().lower()
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith(("#", '"', "-")))
    for tool in ("dnsmasq", "haproxy", "nftables", "nft ", "opnsense"):
        assert tool not in code
