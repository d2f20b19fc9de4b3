"""Bad network-edge input is rejected when the model is built, naming the offending values."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet
from harmony.domain.capabilities.dns import ARecord, CnameRecord, DnsRecordSet
from harmony.domain.capabilities.firewall import LOCAL, FirewallPolicy, PortForward, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.deployment import validate_order
from harmony.domain.errors import HarmonyError, InvalidValueError
from harmony.domain.names import ResourceName, non_empty
from harmony.domain.score import AnyScore
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, MacAddress, Port
from harmony.modules.boot import BootScripts
from harmony.modules.dhcp import DhcpScope
from harmony.modules.dns import DnsZone
from harmony.modules.load_balancer import LoadBalancing

N = ResourceName
NET = IPv4Network("10.0.0.0/24")


def pool(a: int, b: int) -> DhcpPool:
    return DhcpPool(start=IPv4Address(f"10.0.0.{a}"), end=IPv4Address(f"10.0.0.{b}"))


def res(mac: str, addr: str, host: str | None = None) -> DhcpReservation:
    return DhcpReservation(mac=MacAddress(mac), address=IPv4Address(addr), hostname=Hostname(host) if host else None)


def backend(name: str, port: int) -> Backend:
    return Backend(name=N(name), address=IPv4Address("127.0.0.1"), port=Port(port))


def frontend(name: str, port: int, address: str = "0.0.0.0") -> Frontend:
    return Frontend(name=N(name), address=IPv4Address(address), port=Port(port), backends=(backend("a", 9000),))


LAN = Zone(name=N("lan"), interfaces=("eth1",))
WAN = Zone(name=N("wan"), interfaces=("eth0",))
DMZ = Zone(name=N("dmz"), networks=(IPv4Network("10.9.0.0/24"),))

CASES: list[tuple[str, Callable[[], object], list[str]]] = [
    (
        "overlapping pools",
        lambda: DhcpSubnet(network=NET, pools=(pool(100, 150), pool(140, 200))),
        ["10.0.0.100-10.0.0.150", "10.0.0.140-10.0.0.200", "overlap"],
    ),
    (
        "pool outside subnet",
        lambda: DhcpSubnet(network=NET, pools=(DhcpPool(start=IPv4Address("10.0.1.1"), end=IPv4Address("10.0.1.9")),)),
        ["10.0.1.1-10.0.1.9", "10.0.0.0/24"],
    ),
    ("pool reversed", lambda: pool(50, 40), ["10.0.0.50-10.0.0.40", "start <= end"]),
    (
        "reservation outside subnet",
        lambda: DhcpSubnet(network=NET, reservations=(res("52:54:00:00:00:01", "10.0.5.7"),)),
        ["52:54:00:00:00:01", "10.0.5.7", "inside 10.0.0.0/24"],
    ),
    (
        "duplicate MAC",
        lambda: DhcpSubnet(
            network=NET, reservations=(res("52:54:00:00:00:01", "10.0.0.7"), res("52:54:00:00:00:01", "10.0.0.8"))
        ),
        ["reservation MAC", "52:54:00:00:00:01"],
    ),
    (
        "duplicate reservation address",
        lambda: DhcpSubnet(
            network=NET, reservations=(res("52:54:00:00:00:01", "10.0.0.7"), res("52:54:00:00:00:02", "10.0.0.7"))
        ),
        ["reservation address", "10.0.0.7"],
    ),
    (
        "duplicate reservation name",
        lambda: DhcpSubnet(
            network=NET,
            reservations=(res("52:54:00:00:00:01", "10.0.0.7", "node"), res("52:54:00:00:00:02", "10.0.0.8", "node")),
        ),
        ["reservation hostname", "node"],
    ),
    (
        "router outside subnet",
        lambda: DhcpSubnet(network=NET, router=IPv4Address("192.168.1.1")),
        ["router", "192.168.1.1"],
    ),
    (
        "record outside zone",
        lambda: DnsRecordSet(
            owner=N("o"),
            zone=Hostname("office.lan"),
            records=(ARecord(name=Hostname("web.other.lan"), address=IPv4Address("10.0.0.5")),),
        ),
        ["A web.other.lan 10.0.0.5", "inside the zone office.lan"],
    ),
    (
        "duplicate record",
        lambda: DnsZone(
            zone=Hostname("office.lan"),
            records=(ARecord(name=Hostname("a.office.lan"), address=IPv4Address("10.0.0.5")),) * 2,
        ),
        ["A a.office.lan 10.0.0.5", "once"],
    ),
    (
        "CNAME beside another record",
        lambda: DnsZone(
            zone=Hostname("office.lan"),
            records=(
                ARecord(name=Hostname("a.office.lan"), address=IPv4Address("10.0.0.5")),
                CnameRecord(name=Hostname("a.office.lan"), target=Hostname("b.office.lan")),
            ),
        ),
        ["A a.office.lan 10.0.0.5", "CNAME"],
    ),
    (
        "load balancer with no backends (at run time)",
        lambda: Frontend.model_validate({"name": "web", "port": 80, "backends": []}),
        ["backends", "at least 1"],
    ),
    ("non_empty of nothing", lambda: non_empty(list[int](), "backends"), ["backends", "at least one"]),
    (
        "duplicate backend names",
        lambda: Frontend(name=N("web"), port=Port(80), backends=(backend("a", 1), backend("a", 2))),
        ["'a'", "unique backend names"],
    ),
    (
        "same backend twice",
        lambda: Frontend(name=N("web"), port=Port(80), backends=(backend("a", 1), backend("b", 1))),
        ["127.0.0.1:1", "once"],
    ),
    (
        "two frontends on one port",
        lambda: LoadBalancing(frontends=(frontend("web", 80), frontend("api", 80, "10.0.0.1"))),
        ["web (0.0.0.0:80)", "api (10.0.0.1:80)", "one frontend"],
    ),
    (
        "two frontends with one name",
        lambda: LoadBalancing(frontends=(frontend("web", 80), frontend("web", 81))),
        ["web", "unique frontend names"],
    ),
    (
        "rule with an unknown zone",
        lambda: FirewallPolicy(zones=(LAN,), rules=(Rule(action="allow", source=LAN, destination=WAN),)),
        ["'wan'", "lan, or local", "allow lan -> wan any"],
    ),
    (
        "forward from an unknown zone",
        lambda: FirewallPolicy(
            zones=(LAN,), port_forwards=(PortForward(source=DMZ, port=Port(80), to_address=IPv4Address("10.0.0.5")),)
        ),
        ["'dmz'", "forward dmz tcp/80"],
    ),
    (
        "zone redefined under a known name",
        lambda: FirewallPolicy(
            zones=(LAN,),
            rules=(Rule(action="allow", source=Zone(name=N("lan"), interfaces=("eth9",)), destination=LOCAL),),
        ),
        ["'lan'"],
    ),
    (
        "interface in two zones",
        lambda: FirewallPolicy(zones=(LAN, Zone(name=N("guest"), interfaces=("eth1",)))),
        ["eth1 in lan and guest"],
    ),
    (
        "empty zone",
        lambda: FirewallPolicy(zones=(Zone(name=N("void")),)),
        ["'void'", "at least one interface or network"],
    ),
    (
        "ports without transport",
        lambda: Rule(action="allow", source=LAN, destination=LOCAL, protocol="icmp", ports=(Port(22),)),
        ["[22]", "icmp"],
    ),
    (
        "two default boot scripts",
        lambda: BootScripts.model_validate({"scripts": [{"content": "a"}, {"content": "b"}]}),
        ["default", "one script per MAC"],
    ),
    ("bad resource name", lambda: N("Web Server"), ["'Web Server'", "a-z"]),
]


@pytest.mark.parametrize(("build", "expected"), [(b, e) for _, b, e in CASES], ids=[c[0] for c in CASES])
def test_bad_input_names_the_offending_values(build: Callable[[], object], expected: list[str]) -> None:
    with pytest.raises((ValidationError, InvalidValueError)) as caught:
        build()
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"


M = "52:54:00:00:00:01"


def scope(network: str, *reservations: tuple[str, str]) -> DhcpScope:
    return DhcpScope(
        subnet=DhcpSubnet(
            network=IPv4Network(network),
            reservations=tuple(DhcpReservation(mac=MacAddress(m), address=IPv4Address(a)) for m, a in reservations),
        )
    )


def zone(owner: str, *records: ARecord | CnameRecord) -> DnsZone:
    return DnsZone(zone=Hostname("office.lan"), owner=N(owner), records=records)


def a(name: str, addr: str = "10.0.0.5") -> ARecord:
    return ARecord(name=Hostname(name), address=IPv4Address(addr))


def cname(name: str, target: str) -> CnameRecord:
    return CnameRecord(name=Hostname(name), target=Hostname(target))


ACROSS_SCORES: list[tuple[str, list[AnyScore], list[str]]] = [
    (
        "two Scores, one port",
        [
            LoadBalancing(frontends=(frontend("web", 80),)),
            LoadBalancing(frontends=(frontend("api", 80),)),
        ],
        ["load-balancer frontend api would listen on tcp/0.0.0.0:80", "frontend web", "expected a free port"],
    ),
    (
        "two Scores, one frontend name",
        [
            LoadBalancing(frontends=(frontend("web", 80),)),
            LoadBalancing(frontends=(frontend("web", 81),)),
        ],
        ["two Scores are named 'lb:web'"],
    ),
    (
        "overlapping subnets",
        [scope("10.0.0.0/24"), scope("10.0.0.0/16")],
        ["10.0.0.0/24 and 10.0.0.0/16", "do not overlap"],
    ),
    (
        "one MAC reserved in two subnets",
        [scope("10.0.0.0/24", (M, "10.0.0.7")), scope("10.0.1.0/24", (M, "10.0.1.7"))],
        [M, "also the MAC address of dhcp:10.0.0.0/24"],
    ),
    (
        "a CNAME name used by a record of another owner",
        [zone("web", cname("www.office.lan", "web.office.lan")), zone("legacy", a("www.office.lan"))],
        ["www.office.lan", "the CNAME of web"],
    ),
    (
        "two Scores, one DNS owner",
        [zone("web", a("a.office.lan")), zone("web", a("b.office.lan"))],
        ["two Scores are named 'dns:web'"],
    ),
]


@pytest.mark.parametrize(("case", "scores", "named"), ACROSS_SCORES, ids=[c[0] for c in ACROSS_SCORES])
def test_conflicts_across_scores_are_rejected_before_anything_runs(
    case: str, scores: list[AnyScore], named: list[str]
) -> None:
    with pytest.raises(HarmonyError) as e:
        validate_order(scores)
    for text in named:
        assert text in str(e.value), f"{case}: {text!r} not in {e.value}"


def test_scores_that_do_not_conflict_pass_together() -> None:
    validate_order(
        [
            LoadBalancing(frontends=(frontend("web", 80),)),
            LoadBalancing(frontends=(frontend("api", 81),)),
            scope("10.0.0.0/24", (M, "10.0.0.7")),
            scope("10.0.1.0/24"),
            zone("web", cname("www.office.lan", "web.office.lan")),
            zone("db", a("db.office.lan"), a("web.office.lan", "10.0.0.6")),
        ]
    )
