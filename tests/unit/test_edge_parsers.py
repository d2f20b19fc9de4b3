"""Pure render/parse functions of the edge adapters, as tables: no daemon involved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet, NetworkBoot
from harmony.domain.capabilities.dns import ARecord, CnameRecord, DnsRecordSet, PtrRecord, SrvRecord
from harmony.domain.capabilities.firewall import FirewallPolicy
from harmony.domain.capabilities.load_balancer import Backend, BackendHealth, Frontend, HealthCheck
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, IPv6Address, MacAddress, Port
from harmony.infra.dnsmasq import parse_fragment, parse_leases, render_main, render_record_set, render_subnet
from harmony.infra.haproxy import (
    HaproxyError,
    current_worker,
    only_states_differ,
    parse_frontend,
    parse_stat,
    render_frontend,
    split_answers,
)
from harmony.infra.nftables import layout, parse_ruleset, render

DATA = Path(__file__).parent / "data"
N = ResourceName

RECORDS = DnsRecordSet(
    owner=N("office"),
    zone=Hostname("office.lan"),
    records=(
        SrvRecord(name=Hostname("office.lan"), service="_http", target=Hostname("web.office.lan"), port=Port(80)),
        ARecord(name=Hostname("web.office.lan"), address=IPv4Address("10.0.0.5")),
        CnameRecord(name=Hostname("www.office.lan"), target=Hostname("web.office.lan")),
        PtrRecord(address=IPv4Address("10.0.0.9"), target=Hostname("printer.office.lan")),
    ),
)
SUBNET = DhcpSubnet(
    network=IPv4Network("10.0.0.0/24"),
    pools=(DhcpPool(start=IPv4Address("10.0.0.100"), end=IPv4Address("10.0.0.199")),),
    reservations=(
        DhcpReservation(mac=MacAddress("52:54:00:00:00:07"), address=IPv4Address("10.0.0.7"), hostname=Hostname("n7")),
    ),
    router=IPv4Address("10.0.0.1"),
    dns_servers=(IPv4Address("10.0.0.1"),),
    domain=Hostname("office.lan"),
    boot=NetworkBoot(next_server=IPv4Address("10.0.0.1")),
)


BIG = DnsRecordSet(
    owner=N("big"),
    zone=Hostname("office.lan"),
    records=tuple(
        ARecord(name=Hostname(f"h{i}.office.lan"), address=IPv4Address(f"10.1.{i // 256}.{i % 256}"))
        for i in range(1000)
    ),
).sorted()


def test_no_line_is_longer_than_the_daemons_accept() -> None:
    """dnsmasq reads about 1 KiB per line and HAProxy 2 KiB: the embedded model is cut into short lines."""
    assert max(len(line) for line in render_record_set(BIG).splitlines()) < 200


def _config_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_dns_fragment_lines() -> None:
    text = render_record_set(RECORDS)
    assert _config_lines(text) == [
        "local=/office.lan/",
        "host-record=web.office.lan,10.0.0.5,300",
        "cname=www.office.lan,web.office.lan,300",
        "ptr-record=9.0.0.10.in-addr.arpa,printer.office.lan",
        "srv-host=_http._tcp.office.lan,web.office.lan,80,0,0",
    ]


def test_dhcp_fragment_lines() -> None:
    assert _config_lines(render_subnet(SUBNET)) == [
        "dhcp-range=set:n10-0-0-0_24,10.0.0.0,static,255.255.255.0,3600",
        "dhcp-range=set:n10-0-0-0_24,10.0.0.100,10.0.0.199,255.255.255.0,3600",
        "dhcp-host=52:54:00:00:00:07,10.0.0.7,n7",
        "dhcp-option=tag:n10-0-0-0_24,option:router,10.0.0.1",
        "dhcp-option=tag:n10-0-0-0_24,option:dns-server,10.0.0.1",
        "dhcp-option=tag:n10-0-0-0_24,option:domain-name,office.lan",
        "dhcp-boot=tag:n10-0-0-0_24,tag:ipxe,boot.ipxe,,10.0.0.1",
        "dhcp-boot=tag:n10-0-0-0_24,tag:!ipxe,tag:bios,undionly.kpxe,,10.0.0.1",
        "dhcp-boot=tag:n10-0-0-0_24,tag:!ipxe,tag:uefi-x64,ipxe.efi,,10.0.0.1",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (render_record_set(RECORDS), RECORDS.sorted()),
        (render_subnet(SUBNET), SUBNET),
        (render_subnet(SUBNET).replace("option:router,10.0.0.1", "option:router,10.0.0.2"), None),  # edited
        (render_record_set(RECORDS) + "address=/x/1.2.3.4\n", None),  # a line added
        ("local=/office.lan/\n", None),  # not ours
        ("# harmony:dns\n#~{not json\n", None),
        ("# harmony:zzz\n#~{}\n", None),
        (render_record_set(BIG), BIG),
        ("", None),
    ],
    ids=["dns", "dhcp", "edited", "appended", "foreign", "bad-json", "unknown-kind", "big", "empty"],
)
def test_parse_fragment(text: str, expected: object) -> None:
    assert parse_fragment(text) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "1800000000 52:54:00:00:00:07 10.0.0.7 n7 01:52:54:00:00:00:07",
            [("52:54:00:00:00:07", "10.0.0.7", "n7", datetime.fromtimestamp(1800000000, UTC))],
        ),
        ("0 52:54:00:00:00:08 10.0.0.8 * *", [("52:54:00:00:00:08", "10.0.0.8", None, None)]),
        ("duid 00:01:00:01:2c:aa", []),  # DHCPv6 server id line
        ("garbage", []),
        ("1 52:54:00:00:00:09 not-an-ip * *", []),
    ],
    ids=["named", "infinite-anonymous", "duid", "garbage", "bad-address"],
)
def test_parse_leases(line: str, expected: list[tuple[str, str, str | None, datetime | None]]) -> None:
    got = [(str(x.mac), str(x.address), x.hostname and str(x.hostname), x.expires) for x in parse_leases(line)]
    assert got == expected


WEB = Frontend(
    name=N("web"),
    address=IPv4Address("127.0.0.1"),
    port=Port(8080),
    backends=(
        Backend(name=N("blue"), address=IPv4Address("127.0.0.1"), port=Port(9001)),
        Backend(name=N("green"), address=IPv6Address("::1"), port=Port(9002), weight=3, state="draining"),
    ),
    health_check=HealthCheck(protocol="http", path="/health", interval=timedelta(milliseconds=500)),
)


def test_haproxy_frontend_lines() -> None:
    assert _config_lines(render_frontend(WEB)) == [
        "frontend web",
        "    bind 127.0.0.1:8080",
        "    mode http",
        "    default_backend web",
        "backend web",
        "    mode http",
        "    balance roundrobin",
        "    option httpchk GET /health",
        "    http-check expect status 200",
        "    server blue 127.0.0.1:9001 weight 1 check inter 500 rise 2 fall 3",
        "    server green [::1]:9002 weight 0 check inter 500 rise 2 fall 3",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (render_frontend(WEB), WEB),
        (render_frontend(WEB).replace("weight 1 check", "weight 5 check"), None),
        ("frontend web\n", None),
    ],
    ids=["ours", "edited", "foreign"],
)
def test_parse_frontend(text: str, expected: Frontend | None) -> None:
    assert parse_frontend(text) == expected


STAT_HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,weight,check_status\n"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            "web,blue,0,0,2,5,,9,UP,1,L7OK\nweb,green,0,0,0,0,,1,DRAIN,0,L7OK\n",
            [("blue", "active", "up", 2), ("green", "draining", "up", 0)],
        ),
        (
            "web,blue,0,0,0,0,,9,DOWN,1,L4CON\nweb,green,0,0,1,1,,1,UP 1/2,1,L7OK\n",
            [("blue", "active", "down", 0), ("green", "active", "up", 1)],
        ),
        (
            "web,blue,0,0,0,0,,9,no check,1,\nweb,green,0,0,0,0,,1,MAINT,1,\n",
            [("blue", "active", "unchecked", 0), ("green", "active", "down", 0)],
        ),
        ("web,blue,0,0,0,0,,9,UP,0,L7OK\n", [("blue", "draining", "up", 0)]),
        ("api,blue,0,0,7,7,,9,UP,1,L7OK\nweb,BACKEND,0,0,0,0,,9,UP,1,\n", []),
    ],
    ids=["up-and-drain", "down-and-rising", "unchecked-and-maint", "weight-zero", "other-proxy"],
)
def test_parse_stat(rows: str, expected: list[tuple[str, str, str, int]]) -> None:
    got = [(s.name, s.state, s.health.value, s.sessions) for s in parse_stat(STAT_HEADER + rows, WEB)]
    assert got == expected
    assert all(isinstance(s.health, BackendHealth) for s in parse_stat(STAT_HEADER + rows, WEB))


def _state(f: Frontend, green: str) -> Frontend:
    blue, g = f.backends
    return f.model_copy(update={"backends": (blue, g.model_copy(update={"state": green}))})


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (_state(WEB, "active"), _state(WEB, "draining"), True),
        (WEB, WEB, False),
        (WEB, WEB.model_copy(update={"port": Port(8081)}), False),
        (_state(WEB, "active"), _state(WEB.model_copy(update={"balance": "leastconn"}), "draining"), False),
        (WEB, WEB.model_copy(update={"backends": WEB.backends[:1]}), False),
    ],
    ids=["drain-only", "same", "port", "drain-and-balance", "backend-removed"],
)
def test_only_states_differ(old: Frontend, new: Frontend, expected: bool) -> None:
    assert only_states_differ(old, new) is expected


POLICY = FirewallPolicy.model_validate_json((DATA / "nft_policy.json").read_text())
LIVE = (DATA / "nft_ruleset.json").read_text()


def _without_rule(comment: str) -> str:
    doc = json.loads(LIVE)
    doc["nftables"] = [i for i in doc["nftables"] if i.get("rule", {}).get("comment") != comment]
    return json.dumps(doc)


def test_live_ruleset_parses_to_the_policy_layout() -> None:
    """``nft -j`` output of the rendered policy (captured from nft 1.0.6) reads back as its layout."""
    assert parse_ruleset(LIVE, "harmony") == layout(POLICY)
    assert parse_ruleset(LIVE, "other") == {"input": ("accept", ())}


@pytest.mark.parametrize(
    ("nft_json", "in_sync"),
    [
        (LIVE, True),
        (_without_rule("r1 allow lan -> local tcp/22,53"), False),
        (LIVE.replace('"policy": "drop"', '"policy": "accept"'), False),
        ('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}', False),
    ],
    ids=["same", "rule-removed", "policy-opened", "table-gone"],
)
def test_in_sync_detects_drift(nft_json: str, in_sync: bool) -> None:
    assert (parse_ruleset(nft_json, "harmony") == layout(POLICY)) is in_sync


def test_render_is_one_transaction_replacing_the_table() -> None:
    script = render(POLICY, "harmony").splitlines()
    assert script[:3] == ["table inet harmony", "delete table inet harmony", "table inet harmony {"]
    assert '    iifname "br0" tcp dport { 22, 53 } accept comment "r1 allow lan -> local tcp/22,53"' in script
    assert '    ip saddr 10.77.0.0/24 tcp dport { 22, 53 } accept comment "r1 allow lan -> local tcp/22,53"' in script
    assert (
        '    iifname "eth0" tcp dport 8080 dnat ip to 10.77.0.5:80 comment "f1 forward wan tcp/8080 -> 10.77.0.5:80"'
        in script
    )
    assert '    iifname "br0" oifname "eth0" masquerade comment "m1 masquerade lan -> wan"' in script


def test_dnsmasq_listens_on_tftp_only_when_there_is_something_to_boot() -> None:
    state = Path("/var/lib/harmony/dnsmasq")
    without = render_main(state, port=5353, interfaces=("lo",))
    assert "enable-tftp" not in without and "tftp-root" not in without
    with_boot = render_main(state, port=5353, interfaces=("lo",), tftp=True)
    assert "enable-tftp" in with_boot.splitlines() and f"tftp-root={state / 'tftp'}" in with_boot.splitlines()


SHOW_PROC_AFTER_RELOAD = """\
#<PID>          <type>          <reloads>       <uptime>        <version>
18550           master          1 [failed: 0]   0d00h00m08s     2.6.12
# workers
27225           worker          0               0d00h00m01s     2.6.12
# old workers
18552           worker          1               0d00h00m08s     2.6.12
# programs

"""


@pytest.mark.parametrize(
    ("show_proc", "worker"),
    [
        (SHOW_PROC_AFTER_RELOAD, 27225),
        (SHOW_PROC_AFTER_RELOAD.replace("27225           worker", "27225           program"), None),
        ("#<PID> <type>\n18550 master 0 [failed: 0] 0d 2.6\n# workers\n# programs\n", None),
        ("", None),
    ],
)
def test_current_worker_is_the_one_of_the_workers_section(show_proc: str, worker: int | None) -> None:
    assert current_worker(show_proc) == worker


@pytest.mark.parametrize(
    ("text", "count", "answers"),
    [
        ("\n\n# pxname,svname\nbe,s1\n\n", 3, ["", "", "# pxname,svname\nbe,s1\n"]),
        ("No such server.\n\n\n", 2, ["No such server.\n", ""]),
        ("\n", 1, [""]),
    ],
)
def test_runtime_answers_are_split_on_their_empty_lines(text: str, count: int, answers: list[str]) -> None:
    assert split_answers(text, count) == answers


@pytest.mark.parametrize(("text", "count"), [("\n", 2), ("a\n\nb\n\nc\n\n", 2), ("a\n", 1)])
def test_runtime_answers_that_do_not_match_the_commands_are_an_error(text: str, count: int) -> None:
    with pytest.raises(HaproxyError, match=f"expected {count} answer"):
        split_answers(text, count)
