"""Bare metal, for real: a qemu machine with an iPXE boot ROM PXE-boots from the router's dnsmasq, runs the
discovery image Harmony built, and reports its hardware; ``harmony inventory discovered`` lists it.

Slow (software emulation: about a minute from power-on to the report on an idle machine; the kernel
package is downloaded once into the boot image cache).
"""

from __future__ import annotations

import asyncio
import json
import time
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from harmony.domain.capabilities.dhcp import DhcpPool, DhcpSubnet, NetworkBoot
from harmony.domain.capabilities.discovery import DiscoveryEndpoint
from harmony.domain.discovery import DiscoveredMachine, discovered
from harmony.domain.installation import MachineRole, RoleAssignment
from harmony.domain.inventory import Inventory
from harmony.domain.outcome import Status
from harmony.domain.values import Hostname, IPv4Address, MacAddress, Port
from harmony.maestro import Maestro
from harmony.modules.bare_metal import NetworkDiscovery
from harmony.modules.bare_metal.roles import MachineRoles
from harmony.modules.dhcp import DhcpScope
from harmony.topology.edge_router import EdgeRouter
from tests.fixtures.edge import harmony_inventory, router_deployment
from tests.fixtures.machines import Machine, Machines, MachineSpec
from tests.fixtures.netns import NETWORK, ROUTER, Lan

pytestmark = pytest.mark.slow

ENDPOINT = DiscoveryEndpoint(address=ROUTER, port=Port(8070))
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0bVn1o0v0PmxQ2zK3P5wGdXJtq2m0Sx3xq6Qe7vS harmony@test"
REPORT_DEADLINE = 600.0  # a failure deadline on a loaded 2-core machine, not a speed expectation


def scores() -> list[DhcpScope | NetworkDiscovery]:
    subnet = DhcpSubnet(
        network=NETWORK,
        pools=(DhcpPool(start=IPv4Address("10.77.0.100"), end=IPv4Address("10.77.0.149")),),
        router=ROUTER,
        lease_time=600,
        boot=NetworkBoot(next_server=ROUTER),
    )
    return [DhcpScope(subnet=subnet), NetworkDiscovery(endpoint=ENDPOINT, poll_seconds=3)]


async def wait_discovered(router: EdgeRouter, *machines: Machine) -> dict[str, DiscoveredMachine]:
    """Poll the router's reports until every machine has reported (or fail showing their consoles)."""
    wanted = {m.spec.mac for m in machines}
    deadline = time.monotonic() + REPORT_DEADLINE
    while True:
        found = {str(m.mac): m for m in discovered(await router.discovery_reports())}
        if wanted <= found.keys():
            return found
        for m in machines:
            if m.process is not None and m.process.poll() is not None:
                pytest.fail(f"machine {m.spec.mac} stopped (qemu exit {m.process.returncode}):\n{m.console_tail()}")
        if time.monotonic() > deadline:
            consoles = "\n\n".join(f"{m.spec.mac}:\n{m.console_tail()}" for m in machines if m.spec.mac not in found)
            pytest.fail(f"no report after {REPORT_DEADLINE:.0f}s from {sorted(wanted - found.keys())}:\n{consoles}")
        await asyncio.sleep(2)


async def test_unknown_machine_boots_discovery_and_reports_its_hardware(
    lan: Lan, edge_router: EdgeRouter, machines: Machines, tmp_path: Path
) -> None:
    maestro = Maestro(edge_router)
    first = await maestro.apply(scores())
    assert first.status is Status.SUCCESS, [r.outcome.message for r in first.results if r.outcome]
    second = await maestro.apply(scores())
    assert second.status is Status.NOOP, [r.changes for r in second.results]

    spec = MachineSpec(
        mac="52:54:00:19:00:01", cpus=2, memory_mib=640, disk_bytes=3 * 2**30, disk_serial="HM-D-19-01",
        vendor="Harmony Labs", product="MiniPC 19", serial="HM-SN-19-01",
    )  # fmt: skip
    vm = machines.power_on(spec)
    machine = (await wait_discovered(edge_router, vm))[spec.mac]

    assert machine.problem is None
    facts = machine.facts
    assert facts is not None
    assert facts.cpu_count == 2
    assert facts.cpu_model  # qemu's default CPU model name, whatever this qemu calls it
    assert facts.memory_bytes == 640 * 2**20
    assert [(d.name, d.size_bytes, d.serial) for d in facts.disks] == [("vda", 3 * 2**30, "HM-D-19-01")]
    assert [str(n.mac) for n in facts.nics] == [spec.mac]
    assert (facts.dmi_vendor, facts.dmi_product, facts.dmi_serial) == ("Harmony Labs", "MiniPC 19", "HM-SN-19-01")
    assert machine.address is not None and machine.address in NETWORK

    host = machine.as_host()
    inventory = Inventory(hosts=(host,))
    assert inventory.hosts[0].hardware == facts
    assert (host.cpus, host.memory) == (2, 640 * 2**20)
    assert [n.mac for n in host.nics] == [MacAddress(spec.mac)]
    assert str(host.name) == "m-525400190001"

    listed = json.loads(harmony_inventory(router_deployment(edge_router, tmp_path), "--json"))
    assert [m["mac"] for m in listed] == [spec.mac]
    assert listed[0]["facts"]["disks"] == [{"name": "vda", "size_bytes": 3 * 2**30, "serial": "HM-D-19-01"}]


async def test_a_machine_that_never_reports_is_listed_as_silent(
    lan: Lan, edge_router: EdgeRouter, tmp_path: Path
) -> None:
    """A DHCP client that is no discovery image (busybox udhcpc in a namespace): it takes a lease and never
    reports; once the timeout has passed, the inventory lists it with the reason."""
    result = await Maestro(edge_router).apply(scores())
    assert result.status is Status.SUCCESS, [r.outcome.message for r in result.results if r.outcome]
    client = lan.add_client("52:54:00:19:00:09")
    client.run(["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", "/bin/true"])
    deploy = router_deployment(edge_router, tmp_path)

    def listed(silent_after: str) -> list[dict[str, object]]:
        machines: list[dict[str, object]] = json.loads(
            harmony_inventory(deploy, "--json", "--silent-after", silent_after)
        )
        return machines

    assert listed("3600") == []  # not yet silent for that long
    (machine,) = listed("0")
    assert machine["mac"] == "52:54:00:19:00:09" and machine["facts"] is None
    assert "has not reported" in str(machine["problem"])


async def test_the_inventory_says_why_an_install_failed(lan: Lan, edge_router: EdgeRouter, tmp_path: Path) -> None:
    """A machine's installer reports a failure to the router's endpoint as the install image does (an HTTP POST
    to ``cgi-bin/installed``); ``harmony inventory discovered`` lists the machine with that reason, and says
    it installs again at its next boot while the deployment gives it a role."""
    result = await Maestro(edge_router).apply(scores())
    assert result.status is Status.SUCCESS, [r.outcome.message for r in result.results if r.outcome]
    mac = "52:54:00:19:00:0c"
    client = lan.add_client(mac)
    client.run(["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", "/bin/true"])
    client.set_address(IPv4Interface("10.77.0.160/24"))
    answer = client.run([
        "busybox", "wget", "-q", "-O", "-", "--post-data", "writing the root filesystem: no space left on device",
        f"{ENDPOINT.url}/cgi-bin/installed?mac={mac}&status=failed",
    ])  # fmt: skip
    assert answer.strip() == "ok"
    deploy = router_deployment(
        edge_router, tmp_path, scores="[roles]",
        prelude=(
            "from harmony.domain.capabilities.discovery import DiscoveryEndpoint\n"
            "from harmony.domain.installation import MachineRole, RoleAssignment\n"
            "from harmony.domain.values import Hostname, IPv4Address, MacAddress, Port\n"
            "from harmony.modules.bare_metal.roles import MachineRoles\n"
            f"roles = MachineRoles(endpoint=DiscoveryEndpoint(address=IPv4Address('{ROUTER}'), port=Port(8070)),\n"
            f"    assignments=(RoleAssignment(mac=MacAddress('{mac}'), hostname=Hostname('web-3'),\n"
            "        role=MachineRole(name='web'), address=IPv4Address('10.77.0.53'),\n"
            f"        ssh_public_key={SSH_KEY!r}),))\n"
        ),
    )  # fmt: skip
    (machine,) = json.loads(harmony_inventory(deploy, "--json", "--silent-after", "0"))
    assert machine["mac"] == mac
    assert machine["install"] == {
        "state": "install failed", "hostname": "web-3", "role": "web",
        "detail": "writing the root filesystem: no space left on device", "script_served": False,
    }  # fmt: skip
    assert (
        "install failed: writing the root filesystem: no space left on device; installs again as web-3 (web) once "
        "the deployment is applied"
    ) in harmony_inventory(deploy, "--silent-after", "0")


async def test_two_machines_booting_together_are_both_discovered_with_their_own_facts(
    edge_router: EdgeRouter, machines: Machines
) -> None:
    result = await Maestro(edge_router).apply(scores())
    assert result.status is Status.SUCCESS, [r.outcome.message for r in result.results if r.outcome]
    a = machines.power_on(MachineSpec(mac="52:54:00:19:00:0a", cpus=1, memory_mib=512, disk_serial="HM-D-A",
                                      serial="HM-SN-A"))  # fmt: skip
    b = machines.power_on(MachineSpec(mac="52:54:00:19:00:0b", cpus=2, memory_mib=640, disk_bytes=4 * 2**30,
                                      disk_serial="HM-D-B", serial="HM-SN-B"))  # fmt: skip
    found = await wait_discovered(edge_router, a, b)
    facts = {mac: m.facts for mac, m in found.items()}
    fa, fb = facts[a.spec.mac], facts[b.spec.mac]
    assert fa is not None and fb is not None
    assert (fa.cpu_count, fa.memory_bytes, fa.dmi_serial, [d.serial for d in fa.disks]) == (
        1, 512 * 2**20, "HM-SN-A", ["HM-D-A"]
    )  # fmt: skip
    assert (fb.cpu_count, fb.memory_bytes, fb.dmi_serial, [(d.serial, d.size_bytes) for d in fb.disks]) == (
        2, 640 * 2**20, "HM-SN-B", [("HM-D-B", 4 * 2**30)]
    )  # fmt: skip
    assert found[a.spec.mac].address != found[b.spec.mac].address

    # A role each: the edge serves each MAC the installer of its own host.
    def role(mac: str, hostname: str, address: str) -> RoleAssignment:
        return RoleAssignment(
            mac=MacAddress(mac), hostname=Hostname(hostname), role=MachineRole(name="web"), ssh_public_key=SSH_KEY,
            address=IPv4Address(address),
        )  # fmt: skip

    roles = MachineRoles(
        endpoint=ENDPOINT,
        assignments=(role(a.spec.mac, "web-a", "10.77.0.61"), role(b.spec.mac, "web-b", "10.77.0.62")),
    )
    applied = await Maestro(edge_router).apply([roles])
    assert applied.status is Status.SUCCESS, [r.outcome.message for r in applied.results if r.outcome]
    scripts = {str(s.mac): s.content for s in await edge_router.boot_scripts()}
    assert "harmony install: web-a " in scripts[a.spec.mac] and "web-b" not in scripts[a.spec.mac]
    assert "harmony install: web-b " in scripts[b.spec.mac] and "web-a" not in scripts[b.spec.mac]
