"""nftables behind ``Firewall``, for real: a router namespace between two segments (lan on br0, dmz on
br1), clients in their own namespaces, busybox httpd as the services the rules let through or not."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from harmony.domain.capabilities.firewall import LOCAL, Endpoint, FirewallPolicy, Masquerade, PortForward, Rule, Zone
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Status
from harmony.domain.values import IPv4Address, Port
from harmony.maestro import Maestro
from harmony.modules.firewall import FirewallRules
from harmony.topology.edge_router import EdgeRouter
from tests.fixtures.netns import Client, Lan

N = ResourceName
LAN = Zone(name=N("lan"), interfaces=("br0",))
DMZ = Zone(name=N("dmz"), interfaces=("br1",))
MANAGEMENT = Endpoint(address=IPv4Address("10.77.0.1"), port=Port(8022))
ADMIN = Rule(action="allow", source=LAN, destination=LOCAL, protocol="tcp", ports=(Port(8022),))
LAN_TO_DMZ_WEB = Rule(action="allow", source=LAN, destination=DMZ, protocol="tcp", ports=(Port(8080),))
BASE = FirewallPolicy(zones=(LAN, DMZ), rules=(ADMIN, LAN_TO_DMZ_WEB))


@dataclass
class Site:
    router: EdgeRouter
    pc: Client  # on the lan, also where the operator manages the router from
    server: Client  # in the dmz

    def score(self, policy: FirewallPolicy) -> FirewallRules:
        return FirewallRules(policy=policy, must_reach=(MANAGEMENT,))


@pytest.fixture
def site(lan: Lan, tmp_path: Path) -> Site:
    lan.add_bridge("br1", IPv4Interface("10.78.0.1/24"))
    pc = lan.add_client("52:54:00:bb:00:01")
    pc.set_address(IPv4Interface("10.77.0.50/24"))
    server = lan.add_client("52:54:00:bb:00:02", bridge="br1")
    server.set_address(IPv4Interface("10.78.0.50/24"), gateway=IPv4Address("10.78.0.1"))
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("ok")
    pc.serve_http(str(www), "10.77.0.50", 8080)
    server.serve_http(str(www), "10.78.0.50", 8080)
    lan.on_router.serve_http(str(www), "10.77.0.1", 8022)  # the router's management endpoint
    assert pc.can_reach("10.78.0.50", 8080)
    assert pc.can_reach("10.77.0.1", 8022)
    return Site(
        EdgeRouter(name="router", state_dir=tmp_path / "edge", netns=lan.router, management_netns=pc.netns), pc, server
    )


async def test_rules_block_and_permit_between_namespaces_as_declared(site: Site) -> None:
    maestro = Maestro(site.router)
    first = await maestro.apply([site.score(BASE)])
    assert first.status is Status.SUCCESS, first.error
    assert (await maestro.apply([site.score(BASE)])).status is Status.NOOP

    assert site.pc.can_reach("10.78.0.50", 8080), "lan -> dmz web is allowed"
    assert site.pc.can_reach("10.77.0.1", 8022), "lan -> router management is allowed"
    assert not site.server.can_reach("10.77.0.50", 8080), "dmz -> lan is denied by default"
    assert not site.server.can_reach("10.77.0.1", 8022), "dmz -> router is denied by default"

    dmz_to_lan = Rule(action="allow", source=DMZ, destination=LAN, protocol="tcp", ports=(Port(8080),))
    opened = BASE.model_copy(update={"rules": (*BASE.rules, dmz_to_lan)})
    plan = await maestro.plan([site.score(opened)])
    assert [(c.action.value, c.target, c.diff) for c in plan.results[0].changes] == [
        ("create", "firewall rule #3", "+ allow dmz -> lan tcp/8080\n")
    ]
    assert (await maestro.apply([site.score(opened)])).status is Status.SUCCESS
    assert site.server.can_reach("10.77.0.50", 8080)

    deny_first = Rule(action="deny", source=DMZ, destination=LAN)
    closed = opened.model_copy(update={"rules": (deny_first, *opened.rules)})
    assert (await maestro.apply([site.score(closed)])).status is Status.SUCCESS
    assert not site.server.can_reach("10.77.0.50", 8080), "the first matching rule decides"


async def test_a_change_that_cuts_the_management_endpoint_is_rolled_back(site: Site) -> None:
    maestro = Maestro(site.router)
    assert (await maestro.apply([site.score(BASE)])).status is Status.SUCCESS

    # the management port opened from the dmz, not from the lan the operator is on: `check` cannot know
    # where the operator connects from (it refuses a policy that opens the port from nowhere), the probe can
    from_dmz = Rule(action="allow", source=DMZ, destination=LOCAL, protocol="tcp", ports=(Port(8022),))
    broken = BASE.model_copy(update={"rules": (from_dmz, LAN_TO_DMZ_WEB)})
    report = await maestro.apply([site.score(broken)])
    assert report.status is Status.FAILURE
    outcome = report.results[0].outcome
    assert outcome is not None
    assert "10.77.0.1:8022 was unreachable after the change" in outcome.message
    assert "rolled back" in outcome.message

    state = await site.router.firewall_state()
    assert state.policy == BASE
    assert state.in_sync
    assert site.pc.can_reach("10.77.0.1", 8022), "the previous ruleset is active again"
    assert site.pc.can_reach("10.78.0.50", 8080)
    assert not site.server.can_reach("10.77.0.50", 8080)
    assert (await maestro.apply([site.score(BASE)])).status is Status.NOOP


async def test_a_ruleset_changed_behind_our_back_is_planned_and_restored(site: Site, lan: Lan) -> None:
    maestro = Maestro(site.router)
    assert (await maestro.apply([site.score(BASE)])).status is Status.SUCCESS
    lan.run_router(["nft", "flush", "chain", "inet", "harmony", "forward"])
    assert (await site.router.firewall_state()).in_sync is False

    plan = await maestro.plan([site.score(BASE)])
    assert [c.target for c in plan.results[0].changes] == ["firewall ruleset"]
    assert (await maestro.apply([site.score(BASE)])).status is Status.SUCCESS
    assert (await maestro.apply([site.score(BASE)])).status is Status.NOOP
    assert not site.server.can_reach("10.77.0.50", 8080)


_APPLY_AND_HANG = """
import asyncio, sys, pathlib
from harmony.domain.capabilities.firewall import FirewallPolicy
from harmony.topology.edge_router import EdgeRouter
from tests.integration.test_edge_firewall import MANAGEMENT

state, netns, management, policy = sys.argv[1:5]
router = EdgeRouter(name="r", state_dir=pathlib.Path(state), netns=netns, management_netns=management,
                    firewall_rollback_after=3)
async def hang(endpoint):  # FAKE (named): a probe that never returns holds the unconfirmed window open
    print("probing", flush=True)
    await asyncio.sleep(3600)
router.nftables._probe = hang
asyncio.run(router.apply_firewall_policy(FirewallPolicy.model_validate_json(policy), must_reach=[MANAGEMENT]))
"""


async def test_the_box_rolls_back_by_itself_when_harmony_dies_mid_change(site: Site, tmp_path: Path) -> None:
    maestro = Maestro(site.router)
    assert (await maestro.apply([site.score(BASE)])).status is Status.SUCCESS

    locked_out = BASE.model_copy(update={"rules": (LAN_TO_DMZ_WEB,)})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _APPLY_AND_HANG,
        str(site.router.state_dir),
        site.router.netns or "",
        site.pc.netns,
        locked_out.model_dump_json(),
        cwd=Path(__file__).resolve().parents[2],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"probing\n"  # the new ruleset is live, unconfirmed
        assert not site.pc.can_reach("10.77.0.1", 8022)
    finally:
        proc.kill()  # Harmony dies before confirming
        await proc.wait()

    deadline = time.monotonic() + 30
    while not site.pc.can_reach("10.77.0.1", 8022):
        assert time.monotonic() < deadline, "the previous ruleset did not come back"
        await asyncio.sleep(0.2)
    state = await site.router.firewall_state()
    assert state.policy == BASE
    assert state.in_sync


async def test_port_forward_and_masquerade(site: Site) -> None:
    maestro = Maestro(site.router)
    site.server.run(["ip", "route", "del", "default"])  # the dmz server knows no way back to the lan
    assert (await maestro.apply([site.score(BASE)])).status is Status.SUCCESS
    assert not site.pc.can_reach("10.78.0.50", 8080), "allowed, but replies cannot route back without NAT"
    assert not site.server.can_reach("10.78.0.1", 8081)

    nat = BASE.model_copy(
        update={
            "masquerade": (Masquerade(source=LAN, destination=DMZ),),
            "port_forwards": (
                PortForward(source=DMZ, port=Port(8081), to_address=IPv4Address("10.77.0.50"), to_port=Port(8080)),
            ),
        }
    )
    plan = await maestro.plan([site.score(nat)])
    assert [(c.action.value, c.target) for c in plan.results[0].changes] == [
        ("create", "firewall forward #1"),
        ("create", "firewall nat #1"),
    ]
    assert (await maestro.apply([site.score(nat)])).status is Status.SUCCESS
    assert site.pc.can_reach("10.78.0.50", 8080), "lan traffic leaves with the router's dmz address"
    assert site.server.can_reach("10.78.0.1", 8081), "the router's port 8081 forwards to the lan pc"
    site.server.run(["ip", "route", "add", "10.77.0.0/24", "via", "10.78.0.1"])
    assert not site.server.can_reach("10.77.0.50", 8080), "only through the forward, not directly"


_APPLY_SLOWLY = """
import asyncio, sys, pathlib
from harmony.domain.capabilities.firewall import FirewallPolicy
from harmony.topology.edge_router import EdgeRouter
from tests.integration.test_edge_firewall import MANAGEMENT

state, netns, management, policy, window, delay = sys.argv[1:7]
router = EdgeRouter(name="r", state_dir=pathlib.Path(state), netns=netns, management_netns=management,
                    firewall_rollback_after=float(window))
real_probe = router.nftables._probe
async def slow(endpoint):  # FAKE (named): the real probe, after DELAY seconds of holding the window open
    print("probing", flush=True)
    await asyncio.sleep(float(delay))
    return await real_probe(endpoint)
router.nftables._probe = slow
asyncio.run(router.apply_firewall_policy(FirewallPolicy.model_validate_json(policy), must_reach=[MANAGEMENT]))
"""

LOCKED_OUT = BASE.model_copy(update={"rules": (LAN_TO_DMZ_WEB,)})
GOOD = BASE.model_copy(
    update={"rules": (*BASE.rules, Rule(action="allow", source=LAN, destination=LOCAL, protocol="icmp"))}
)


async def _start_apply(
    site: Site, policy: FirewallPolicy, *, window: float, delay: float
) -> asyncio.subprocess.Process:
    """Another Harmony process applying ``policy``; returns once its ruleset is live and being probed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _APPLY_SLOWLY,
        str(site.router.state_dir),
        site.router.netns or "",
        site.pc.netns,
        policy.model_dump_json(),
        str(window),
        str(delay),
        cwd=Path(__file__).resolve().parents[2],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"probing\n"
    return proc


def _router(site: Site, tmp_path: Path, window: float) -> EdgeRouter:
    return EdgeRouter(
        name="router",
        state_dir=site.router.state_dir,
        netns=site.router.netns,
        management_netns=site.pc.netns,
        firewall_rollback_after=window,
    )


async def test_a_stale_rollback_never_restores_a_lockout_over_a_later_good_apply(site: Site, tmp_path: Path) -> None:
    """Issue 12, sequence 1: lockout, harmony killed mid-probe, a good apply inside the window."""
    window = 4.0
    router = _router(site, tmp_path, window)
    assert (await Maestro(router).apply([site.score(BASE)])).status is Status.SUCCESS

    killed = await _start_apply(site, LOCKED_OUT, window=window, delay=3600)
    assert not site.pc.can_reach("10.77.0.1", 8022), "the lockout is live, unconfirmed"
    killed.kill()  # kill -KILL during the probe: its timer stays armed on the box
    await killed.wait()

    good = await Maestro(router).apply([site.score(GOOD)])
    assert good.status is Status.SUCCESS, good.results[0].outcome
    await asyncio.sleep(window + 2)  # past the killed run's rollback timer

    assert site.pc.can_reach("10.77.0.1", 8022), "management is reachable"
    state = await router.firewall_state()
    assert state.policy == GOOD and state.in_sync, "the good policy is still live and recorded"


async def test_two_applies_at_once_end_with_management_reachable_and_a_true_state_file(
    site: Site, tmp_path: Path
) -> None:
    """Issue 12, race 2: a lockout apply and a good one at the same time, without the Maestro's run lock."""
    router = _router(site, tmp_path, 30)
    assert (await Maestro(router).apply([site.score(BASE)])).status is Status.SUCCESS

    lockout = await _start_apply(site, LOCKED_OUT, window=30, delay=2)
    await router.apply_firewall_policy(GOOD, must_reach=[MANAGEMENT])  # settles the lockout, then its own
    _, err = await lockout.communicate()
    assert lockout.returncode != 0, "the lockout apply cannot report success"
    assert b"settled by another apply" in err or b"rolled back" in err, err.decode()[-500:]

    assert site.pc.can_reach("10.77.0.1", 8022)
    state = await router.firewall_state()
    assert state.policy == GOOD and state.in_sync


async def test_an_interrupted_apply_restores_the_previous_ruleset_at_once(site: Site, tmp_path: Path) -> None:
    router = _router(site, tmp_path, 600)  # the timer would take ten minutes: the restore is the interrupt's
    assert (await Maestro(router).apply([site.score(BASE)])).status is Status.SUCCESS

    interrupted = await _start_apply(site, LOCKED_OUT, window=600, delay=3600)
    assert not site.pc.can_reach("10.77.0.1", 8022)
    interrupted.send_signal(signal.SIGINT)
    await interrupted.wait()

    assert site.pc.can_reach("10.77.0.1", 8022), "the previous ruleset is back without waiting for the timer"
    state = await router.firewall_state()
    assert state.policy == BASE and state.in_sync
