"""Bare metal, end to end: a qemu machine is discovered, gets a role, is installed with Debian (an install cut
half-way is reported as failed and retried, never marked installed), boots from its disk, answers SSH, takes
a Score, and a second network boot does not install it again.

Slow (12 to 19 minutes on the loaded CI host): the install image is built once (debootstrap, 3 to 7 minutes;
cached under /var/cache/harmony), and the machine runs under software emulation (see ``tests.fixtures.machines``).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

import pytest
from pydantic import ValidationError

from harmony.domain.capabilities.dhcp import DhcpPool, DhcpSubnet, NetworkBoot
from harmony.domain.capabilities.discovery import DiscoveryEndpoint
from harmony.domain.capabilities.installation import LOCAL_BOOT_SCRIPT, InstallState
from harmony.domain.installation import MachineRole, RoleAssignment
from harmony.domain.outcome import Status
from harmony.domain.values import Hostname, IPv4Address, MacAddress, Port
from harmony.infra.install_image import build_install_image
from harmony.maestro import Maestro
from harmony.maestro.runner import RunReport
from harmony.modules.bare_metal import MachineRoles, NetworkDiscovery
from harmony.modules.dhcp import DhcpScope
from harmony.modules.files import ManagedFile
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.machines import Machine, Machines, MachineSpec, forward_into
from tests.fixtures.netns import NETWORK, ROUTER, Lan

pytestmark = pytest.mark.slow

ENDPOINT = DiscoveryEndpoint(address=ROUTER, port=Port(8070))
DEADLINE = 1500.0  # a failure deadline on a loaded 2-core machine under software emulation, not a speed figure
MAC = "52:54:00:19:01:01"
WEB = MachineRole(name="web", min_disk_bytes=2 * 2**30)


def ssh_key(directory: Path) -> tuple[Path, str]:
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key, (directory / "id_ed25519.pub").read_text().strip()


def edge_scores(assignment: RoleAssignment) -> list[DhcpScope | NetworkDiscovery]:
    subnet = DhcpSubnet(
        network=NETWORK,
        pools=(DhcpPool(start=IPv4Address("10.77.0.100"), end=IPv4Address("10.77.0.149")),),
        router=ROUTER,
        lease_time=600,
        boot=NetworkBoot(next_server=ROUTER),
        reservations=(assignment.reservation,),
    )
    return [DhcpScope(subnet=subnet), NetworkDiscovery(endpoint=ENDPOINT, poll_seconds=3)]


async def wait_for[T](what: str, machine: Machine, probe: Callable[[], Awaitable[T | None]]) -> T:
    deadline = time.monotonic() + DEADLINE
    while True:
        found = await probe()
        if found is not None:
            return found
        if machine.process is not None and machine.process.poll() is not None:
            pytest.fail(f"{what}: qemu exited {machine.process.returncode}:\n{machine.console_tail(60)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {DEADLINE:.0f}s:\n{machine.console_tail(60)}")
        await asyncio.sleep(3)


def refused(report: RunReport, pattern: str) -> None:
    """The plan failed, nothing was applied, and the error says why."""
    assert report.status is Status.FAILURE and report.error is not None, report
    assert re.search(pattern, report.error), report.error


async def install_state(router: EdgeRouter, status: str) -> InstallState | None:
    return next((s for s in await router.install_states() if str(s.mac) == MAC and s.status == status), None)


async def ssh_ready(host: LinuxHost) -> bool | None:
    try:
        await host.ensure_ready()
        done = await host.connector.run_command(["true"], timeout=30)
    except Exception:
        await host.close()
        return None
    return True if done.ok else None


async def test_a_discovered_machine_is_installed_boots_from_disk_and_is_managed_over_ssh(
    lan: Lan, edge_router: EdgeRouter, machines: Machines, tmp_path: Path
) -> None:
    key, public = ssh_key(tmp_path)
    web = RoleAssignment(
        mac=MacAddress(MAC), hostname=Hostname("web-19"), role=WEB, ssh_public_key=public,
        address=IPv4Address("10.77.0.50"),
    )  # fmt: skip
    maestro = Maestro(edge_router)
    first = await maestro.apply(edge_scores(web))
    assert first.status is Status.SUCCESS, [r.outcome.message for r in first.results if r.outcome]

    # Refused before any machine boots: a MAC never discovered; the same MAC twice.
    refused(
        await maestro.plan([MachineRoles(endpoint=ENDPOINT, assignments=(web,))]),
        r"assignments\[0\]\.mac: '52:54:00:19:01:01'.*discovered machine",
    )
    other = web.model_copy(update={"hostname": Hostname("web-20"), "address": IPv4Address("10.77.0.51")})
    with pytest.raises(ValidationError, match=r"assignments\[1\]\.mac.*not already in assignments\[0\]"):
        MachineRoles(endpoint=ENDPOINT, assignments=(web, other))

    vm = machines.power_on(MachineSpec(mac=MAC, cpus=1, memory_mib=768, disk_bytes=3 * 2**30))

    async def reported() -> bool | None:
        return True if any(str(r.mac) == MAC for r in await edge_router.discovery_reports()) else None

    await wait_for("discovery report", vm, reported)

    # Refused before the machine reboots: a disk smaller than the role needs, a disk it does not have.
    big = web.model_copy(update={"role": MachineRole(name="db", min_disk_bytes=64 * 2**30)})
    refused(
        await maestro.plan([MachineRoles(endpoint=ENDPOINT, assignments=(big,))]),
        r"assignments\[0\]\.disk: 'vda of 52:54:00:19:01:01 \(3221225472 bytes\)'",
    )
    refused(
        await maestro.plan([MachineRoles(endpoint=ENDPOINT, assignments=(web.model_copy(update={"disk": "sdb"}),))]),
        r"assignments\[0\]\.disk: 'sdb'.*one of the disks .*: vda",
    )

    # The first install is cut half-way: the edge serves only the first half of the image.
    image = await edge_router.install_image()
    served = Path(str(edge_router.dnsmasq.boot_root)) / image.file
    served.parent.mkdir(parents=True, exist_ok=True)
    whole = (await build_install_image(edge_router.image_cache)).path
    with whole.open("rb") as f:
        served.write_bytes(f.read(image.compressed_bytes // 2))
    roles = MachineRoles(endpoint=ENDPOINT, assignments=(web,))
    applied = await maestro.apply([roles])
    assert applied.status is Status.SUCCESS, [r.outcome.message for r in applied.results if r.outcome]

    failed = await wait_for("failed install report", vm, lambda: install_state(edge_router, "failed"))
    assert "did not arrive whole" in failed.detail or "sha256" in failed.detail, failed.detail
    scripts = {str(s.mac): s.content for s in await edge_router.boot_scripts()}
    assert "harmony.install=" in scripts[MAC]  # never marked installed: the next boot installs again
    assert await install_state(edge_router, "installed") is None

    served.unlink()  # the whole image again: the next apply serves it, the machine's next boot retries
    again = await maestro.apply([roles])
    assert again.status is Status.SUCCESS, [r.outcome.message for r in again.results if r.outcome]
    installed = await wait_for("installed report", vm, lambda: install_state(edge_router, "installed"))
    scripts = {str(s.mac): s.content for s in await edge_router.boot_scripts()}
    assert scripts[MAC] == LOCAL_BOOT_SCRIPT
    assert (await maestro.plan([roles])).status is Status.NOOP

    async with forward_into(lan.router, str(web.address), 22) as port:
        host = LinuxHost.ssh(IPv4Address("127.0.0.1"), name="web-19", port=Port(port), key=key, check_host_key=False)
        try:
            await wait_for("SSH on the installed machine", vm, lambda: ssh_ready(host))
            hostname = await host.connector.run_command(["hostname"], timeout=30)
            assert hostname.stdout.strip() == "web-19"
            # the root filesystem was grown from the image's 1.5 GiB to the 3 GiB disk at first boot
            root = await host.connector.run_command(["df", "-B1", "--output=size", "/"], timeout=30)
            assert int(root.stdout.split()[-1]) > int(2.5 * 2**30), root.stdout
            motd = ManagedFile(path=PurePosixPath("/etc/motd"), content="web-19, installed by harmony\n")
            host_maestro = Maestro(host)
            first_file = await host_maestro.apply([motd])
            assert first_file.status is Status.SUCCESS, [r.outcome.message for r in first_file.results if r.outcome]
            assert (await host_maestro.apply([motd])).status is Status.NOOP

            # A second network boot goes to the disk: no second install (the file is still there, the
            # installer's report is the same one).
            reboot = "nohup sh -c 'sleep 2; systemctl reboot' >/dev/null 2>&1 &"
            await host.ensure_ready()  # the Maestro closed its connection after the run
            await host.connector.run_command(["sh", "-c", reboot], timeout=30)
            await host.close()
            await asyncio.sleep(10)
            await wait_for("SSH after the reboot", vm, lambda: ssh_ready(host))
            assert (await host_maestro.apply([motd])).status is Status.NOOP
            assert await install_state(edge_router, "installed") == installed
        finally:
            await host.close()
