"""Bare metal: how long a new machine takes from power-on to discovered, and from role assigned to
SSH-reachable (installed), and where the time goes.

    .venv/bin/python bench/bare_metal_bench.py [--repeat 1] [--no-install]   (as root: a namespace and qemu)

A qemu machine (software emulation, no KVM; 2 vCPUs, 512 MiB, Debian's iPXE ROM) on a bridge inside a
namespace, served by an EdgeRouter (dnsmasq DHCP/TFTP, busybox httpd) with ``NetworkDiscovery`` applied.
Phases: the discovery image (build from the cache), the apply (upload to the boot root, daemons), then
power-on → first DHCP lease (firmware and iPXE), → report received (iPXE fetches the script, kernel and
initramfs over HTTP, the kernel boots, the image takes its own lease and reports).

Install (a second machine, software emulation: GRUB does not boot under this host's nested KVM): the
install image (debootstrap, cached after the first build), then role assigned (``MachineRoles`` applied) →
installer running (the machine polled, rebooted and PXE-booted its own script) → installed (the image
streamed, written, checked on the disk, reported) → SSH-reachable (reboot, GRUB, Debian, sshd).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.machines import Machines, MachineSpec, forward_into  # noqa: E402
from tests.fixtures.netns import make_lan  # noqa: E402
from tests.integration.test_bare_metal_discovery import ENDPOINT, scores  # noqa: E402
from tests.integration.test_bare_metal_install import edge_scores, ssh_key, ssh_ready  # noqa: E402

from harmony.domain.installation import MachineRole, RoleAssignment  # noqa: E402
from harmony.domain.values import Hostname, IPv4Address, MacAddress, Port  # noqa: E402
from harmony.maestro import Maestro  # noqa: E402
from harmony.modules.bare_metal import MachineRoles  # noqa: E402
from harmony.topology.edge_router import EdgeRouter  # noqa: E402
from harmony.topology.linux_host import LinuxHost  # noqa: E402
from results import record  # noqa: E402  (bench/ is not a package: its scripts run by path)


async def once(work: Path) -> dict[str, float]:
    lan = make_lan()
    router = EdgeRouter(name="router", state_dir=work / "edge", netns=lan.router)
    machines = Machines(lan=lan, directory=work / "machines")
    machines.directory.mkdir(parents=True)
    try:
        t0 = time.monotonic()
        await router.discovery_image()
        t_image = time.monotonic()
        report = await Maestro(router).apply(scores())
        assert report.status.value == "success", report
        t_apply = time.monotonic()
        spec = MachineSpec(mac="52:54:00:19:0b:01")
        machines.power_on(spec)
        on = time.monotonic()
        leased = reported = 0.0
        while not reported:
            if not leased and any(str(x.mac) == spec.mac for x in await router.dhcp_leases()):
                leased = time.monotonic()
            if any(str(r.mac) == spec.mac for r in await router.discovery_reports()):
                reported = time.monotonic()
            if time.monotonic() - on > 900:
                raise RuntimeError("no report after 900 s")
            await asyncio.sleep(0.2)
        return {
            "image (cached)": t_image - t0,
            "apply": t_apply - t_image,
            "power-on → first lease": leased - on,
            "first lease → reported": reported - leased,
            "power-on → discovered": reported - on,
        }
    finally:
        machines.teardown()
        await router.stop()
        lan.teardown()


async def install(work: Path) -> dict[str, float]:
    lan = make_lan()
    router = EdgeRouter(name="router", state_dir=work / "edge", netns=lan.router)
    machines = Machines(lan=lan, directory=work / "machines")
    machines.directory.mkdir(parents=True)
    key, public = ssh_key(work)
    mac = "52:54:00:19:0b:02"
    role = RoleAssignment(
        mac=MacAddress(mac), hostname=Hostname("bench-1"), role=MachineRole(name="bench"), ssh_public_key=public,
        address=IPv4Address("10.77.0.60"),
    )  # fmt: skip
    try:
        t0 = time.monotonic()
        await router.install_image()
        t_image = time.monotonic()
        report = await Maestro(router).apply(edge_scores(role))
        assert report.status.value == "success", report
        spec = MachineSpec(mac=mac, cpus=1, memory_mib=768, disk_bytes=3 * 2**30, accelerator="tcg")
        machines.power_on(spec)
        on = time.monotonic()
        while not any(str(r.mac) == mac for r in await router.discovery_reports()):
            if time.monotonic() - on > 1800:
                raise RuntimeError("no report after 1800 s")
            await asyncio.sleep(0.5)
        discovered = time.monotonic()
        assigned_report = await Maestro(router).apply([MachineRoles(endpoint=ENDPOINT, assignments=(role,))])
        assert assigned_report.status.value == "success", assigned_report
        assigned = time.monotonic()
        installed = 0.0
        while not installed:
            states = {str(s.mac): s for s in await router.install_states()}
            if mac in states and states[mac].status != "installing":  # "installing": the writing goes on
                if states[mac].status != "installed":
                    raise RuntimeError(f"install failed: {states[mac].detail}")
                installed = time.monotonic()
            elif time.monotonic() - assigned > 1800:
                raise RuntimeError("no install report after 1800 s")
            await asyncio.sleep(0.5)
        async with forward_into(lan.router, str(role.address), 22) as port:
            host = LinuxHost.ssh(IPv4Address("127.0.0.1"), port=Port(port), key=key, check_host_key=False)
            while not await ssh_ready(host):
                if time.monotonic() - installed > 1800:
                    raise RuntimeError("no SSH after 1800 s")
                await asyncio.sleep(0.5)
            reachable = time.monotonic()
            await host.close()
        return {
            "install image (cached)": t_image - t0,
            "power-on → discovered (tcg)": discovered - on,
            "assigned → installed": installed - assigned,
            "installed → SSH-reachable": reachable - installed,
            "assigned → SSH-reachable": reachable - assigned,
        }
    finally:
        machines.teardown()
        await router.stop()
        lan.teardown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-install", action="store_true", help="only power-on → discovered")
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="harmony-bm-bench-") as tmp:
            run = asyncio.run(once(Path(tmp)))
        if not args.no_install:
            with tempfile.TemporaryDirectory(prefix="harmony-bm-bench-") as tmp:
                run |= asyncio.run(install(Path(tmp)))
        runs.append(run)
    for phase in runs[0]:
        print(f"{phase:32s} {statistics.median(r[phase] for r in runs):7.1f} s")
    record("bare_metal", "power-on → discovered", statistics.median(r["power-on → discovered"] for r in runs), "s")
    if not args.no_install:
        median = statistics.median(r["assigned → SSH-reachable"] for r in runs)
        record("bare_metal", "role assigned → SSH-reachable (tcg)", median, "s")


if __name__ == "__main__":
    main()
