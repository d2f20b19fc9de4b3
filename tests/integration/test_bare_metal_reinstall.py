"""A machine is installed once, and again only when asked: an assignment of a later ``generation``.

No VM here: a namespace client plays the machine's two HTTP calls, as the discovery image makes them (its
hardware report to ``cgi-bin/report``, its installer's report to ``cgi-bin/installed``), against the real
router (dnsmasq, busybox httpd and its CGI programs) and the real install image. The VM end to end is
``test_bare_metal_install.py``.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from harmony.domain.capabilities.discovery import DiscoveryEndpoint
from harmony.domain.capabilities.installation import LOCAL_BOOT_SCRIPT
from harmony.domain.installation import MachineRole, RoleAssignment
from harmony.domain.outcome import Status
from harmony.domain.values import Hostname, IPv4Address, MacAddress, Port
from harmony.maestro import Maestro
from harmony.modules.bare_metal import NetworkDiscovery
from harmony.modules.bare_metal.roles import MachineRoles
from harmony.topology.edge_router import EdgeRouter
from tests.fixtures.edge import harmony_inventory, router_deployment
from tests.fixtures.netns import ROUTER, Lan

pytestmark = pytest.mark.slow  # the install image: built once (minutes), then taken from the machine's cache

ENDPOINT = DiscoveryEndpoint(address=ROUTER, port=Port(8070))
MAC = "52:54:00:19:02:01"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0bVn1o0v0PmxQ2zK3P5wGdXJtq2m0Sx3xq6Qe7vS harmony@test"
REPORT = f"""cpu_model=QEMU Virtual CPU version 2.5+
cpu_count=1
memory_bytes=805306368
disk=vda 3221225472 HM-D-19-02
nic=eth0 {MAC}
dmi_vendor=Harmony Labs
dmi_product=MiniPC 19
dmi_serial=HM-SN-19-02
"""


async def test_an_installed_machine_is_installed_again_only_for_a_later_generation(
    lan: Lan, edge_router: EdgeRouter, tmp_path: Path
) -> None:
    maestro = Maestro(edge_router)
    ready = await maestro.apply([NetworkDiscovery(endpoint=ENDPOINT, poll_seconds=3)])
    assert ready.status is Status.SUCCESS, [r.outcome.message for r in ready.results if r.outcome]
    machine = lan.add_client(MAC)
    machine.set_address(IPv4Interface("10.77.0.170/24"))

    def post(path: str, body: str) -> str:
        return machine.run(["busybox", "wget", "-q", "-O", "-", "--post-data", body, f"{ENDPOINT.url}{path}"]).strip()

    assert post(f"/cgi-bin/report?mac={MAC}", REPORT) == "wait"
    web = RoleAssignment(
        mac=MacAddress(MAC), hostname=Hostname("web-21"), role=MachineRole(name="web"), ssh_public_key=KEY,
        address=IPv4Address("10.77.0.60"),
    )  # fmt: skip

    async def script() -> str:
        return {str(s.mac): s.content for s in await edge_router.boot_scripts()}[MAC]

    first = await maestro.apply([MachineRoles(endpoint=ENDPOINT, assignments=(web,))])
    assert first.status is Status.SUCCESS, [r.outcome.message for r in first.results if r.outcome]
    assert "harmony.install=" in await script() and "generation 1" in await script()
    # The installer says it started (its first call): the state is "installing", the install script stays.
    assert post(f"/cgi-bin/installed?mac={MAC}&status=installing", "writing disk.img.gz onto /dev/vda") == "ok"
    (state,) = await edge_router.install_states()
    assert (state.status, state.generation, state.detail) == ("installing", 1, "writing disk.img.gz onto /dev/vda")
    assert "harmony.install=" in await script()
    refused = post(f"/cgi-bin/installed?mac={MAC}&status=bogus", "")
    assert refused == "error: status= must be installing, installed or failed"
    assert post(f"/cgi-bin/installed?mac={MAC}&status=installed", "image on /dev/vda") == "ok"
    assert await script() == LOCAL_BOOT_SCRIPT
    (state,) = await edge_router.install_states()
    assert (state.status, state.generation) == ("installed", 1)
    assert (await maestro.plan([MachineRoles(endpoint=ENDPOINT, assignments=(web,))])).status is Status.NOOP

    # Asked: generation 2. The plan says why; the apply serves the installer again and records the request.
    again = MachineRoles(endpoint=ENDPOINT, assignments=(web.model_copy(update={"generation": 2}),))
    planned = await maestro.plan([again])
    assert planned.status is Status.SUCCESS
    (change,) = planned.results[0].changes
    assert "reinstall: generation 2, installed at generation 1" in change.diff
    assert (await maestro.apply([again])).status is Status.SUCCESS
    assert "harmony.install=" in await script() and "generation 2" in await script()
    (state,) = await edge_router.install_states()
    assert (state.status, state.generation) == ("requested", 2)
    assert post(f"/cgi-bin/report?mac={MAC}", REPORT) == "reboot"  # a machine in discovery reboots into it
    assert (await maestro.plan([again])).status is Status.NOOP  # asked once, not at every run

    deploy = router_deployment(edge_router, tmp_path)
    (listed,) = json.loads(harmony_inventory(deploy, "--json"))
    assert listed["install"]["state"] == "reinstall requested"

    # The installer of generation 2 reports: installing, then installed at generation 2, and nothing more to do.
    assert post(f"/cgi-bin/installed?mac={MAC}&status=installing", "writing disk.img.gz onto /dev/vda") == "ok"
    shown = harmony_inventory(deploy)
    assert "installing: writing disk.img.gz onto /dev/vda" in shown, shown
    assert post(f"/cgi-bin/installed?mac={MAC}&status=installed", "image on /dev/vda") == "ok"
    (state,) = await edge_router.install_states()
    assert (state.status, state.generation) == ("installed", 2)
    assert await script() == LOCAL_BOOT_SCRIPT
    assert (await maestro.plan([again])).status is Status.NOOP
    # A lower generation asks nothing: installed is installed.
    assert (await maestro.plan([MachineRoles(endpoint=ENDPOINT, assignments=(web,))])).status is Status.NOOP
