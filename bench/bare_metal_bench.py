"""Bare metal: how long a new machine takes from power-on to discovered, and where the time goes.

    .venv/bin/python bench/bare_metal_bench.py [--repeat 1]        (as root: a network namespace and qemu)

A qemu machine (software emulation, no KVM; 2 vCPUs, 512 MiB, Debian's iPXE ROM) on a bridge inside a
namespace, served by an EdgeRouter (dnsmasq DHCP/TFTP, busybox httpd) with ``NetworkDiscovery`` applied.
Phases: the discovery image (build from the cache), the apply (upload to the boot root, daemons), then
power-on → first DHCP lease (firmware and iPXE), → report received (iPXE fetches the script, kernel and
initramfs over HTTP, the kernel boots, the image takes its own lease and reports).
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

from tests.fixtures.machines import Machines, MachineSpec  # noqa: E402
from tests.fixtures.netns import make_lan  # noqa: E402
from tests.integration.test_bare_metal_discovery import scores  # noqa: E402

from harmony.maestro import Maestro  # noqa: E402
from harmony.topology.edge_router import EdgeRouter  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="harmony-bm-bench-") as tmp:
            runs.append(asyncio.run(once(Path(tmp))))
    for phase in runs[0]:
        print(f"{phase:28s} {statistics.median(r[phase] for r in runs):7.1f} s")


if __name__ == "__main__":
    main()
