"""Bare metal, pure parts: inventory reports into facts, stored reports, the discovery script, and the
initramfs's module order and archive format."""

from __future__ import annotations

import gzip
import io
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from harmony.domain.capabilities.dhcp import DhcpLease, DhcpSubnet
from harmony.domain.capabilities.discovery import DiscoveryEndpoint, DiscoveryImage, DiscoveryReport
from harmony.domain.discovery import discovered, discovery_script, silent_machines
from harmony.domain.errors import InvalidValueError
from harmony.domain.hardware import Disk, HardwareFacts, NetworkInterface, parse_report
from harmony.domain.inventory import HostResources, Inventory
from harmony.domain.units import Bytes
from harmony.domain.values import IPv4Address, IPv4Network, MacAddress, Port
from harmony.infra.boot_image import Cpio, module_depends, module_load_order
from harmony.infra.busybox_httpd import parse_stored_report

REPORT = """cpu_model=QEMU Virtual CPU version 2.5+
cpu_count=2
memory_bytes=671088640
disk=vda 3221225472 HM-D-19-01
disk=sda 1000204886016 WD 10EZEX serial
nic=eth0 52:54:00:19:00:01
nic=eth1 52:54:00:19:00:02
dmi_vendor=Harmony Labs
dmi_product=MiniPC 19
dmi_serial=HM-SN-19-01
"""


def test_a_report_becomes_typed_facts() -> None:
    facts = parse_report(REPORT)
    assert facts == HardwareFacts(
        cpu_model="QEMU Virtual CPU version 2.5+",
        cpu_count=2,
        memory_bytes=640 * 2**20,
        disks=(
            Disk(name="vda", size_bytes=3 * 2**30, serial="HM-D-19-01"),
            Disk(name="sda", size_bytes=1000204886016, serial="WD 10EZEX serial"),
        ),
        nics=(
            NetworkInterface(name="eth0", mac=MacAddress("52:54:00:19:00:01")),
            NetworkInterface(name="eth1", mac=MacAddress("52:54:00:19:00:02")),
        ),
        dmi_vendor="Harmony Labs",
        dmi_product="MiniPC 19",
        dmi_serial="HM-SN-19-01",
    )
    assert facts.largest_disk is not None and facts.largest_disk.name == "sda"


def test_a_disk_without_serial_and_no_dmi_are_empty_strings() -> None:
    facts = parse_report("cpu_model=x\ncpu_count=1\nmemory_bytes=0\ndisk=vdb 512 \n")
    assert facts.disks == (Disk(name="vdb", size_bytes=512, serial=""),)
    assert (facts.dmi_vendor, facts.nics) == ("", ())


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("cpu_model=x\ncpu_count=1\n", "memory_bytes"),
        ("cpu_count=1\nmemory_bytes=1\ncolour=blue\n", "line 3"),
        ("cpu_model=x\ncpu_count=1\nmemory_bytes=1\nnic=eth0 not-a-mac\n", "line 4"),
        ("cpu_model=x\ncpu_count=1\nmemory_bytes=1\ndisk=vda many\n", "line 4"),
        ("cpu_model=x\ncpu_count=0\nmemory_bytes=1\n", "cpu_count"),
        ("<html>Bad gateway</html>\n", "line 1"),
    ],
)
def test_a_bad_report_is_rejected_naming_what(text: str, names: str) -> None:
    with pytest.raises(InvalidValueError) as e:
        parse_report(text)
    assert names in str(e.value)


def test_stored_reports_and_unreadable_machines() -> None:
    stored = parse_stored_report("52-54-00-19-00-01", "address=10.77.0.101\nreceived=1764336000\n" + REPORT)
    assert stored == DiscoveryReport(
        mac=MacAddress("52:54:00:19:00:01"),
        address=IPv4Address("10.77.0.101"),
        received=datetime(2025, 11, 28, 13, 20, tzinfo=UTC),
        text=REPORT,
    )
    assert parse_stored_report("52-54-00-19-00-01", "garbage") is None
    assert parse_stored_report("not-a-mac", "address=\nreceived=1\n") is None
    broken = DiscoveryReport(mac=MacAddress("52:54:00:19:00:02"), address=None, received=stored.received, text="x")
    good, bad = discovered([broken, stored])
    assert good.facts is not None and bad.facts is None
    assert bad.problem is not None and "line 1" in bad.problem
    host = good.as_host()
    assert Inventory(hosts=(host,)).hosts[0].hardware == good.facts
    # what it reported is what the check fits Scores into
    assert host.resources == HostResources(cpus=good.facts.cpu_count, memory=Bytes(good.facts.memory_bytes))
    with pytest.raises(InvalidValueError, match="52:54:00:19:00:02"):
        bad.as_host()


def test_the_discovery_script_boots_the_image_over_http() -> None:
    image = DiscoveryImage(digest="ab" * 32, kernel="discovery/abab/vmlinuz", initrd="discovery/abab/initrd.img",
                           kernel_version="6.1.0-56-amd64", size_bytes=1)  # fmt: skip
    script = discovery_script(DiscoveryEndpoint(address=IPv4Address("10.77.0.1"), port=Port(8070)), image)
    assert script.splitlines() == [
        "#!ipxe",
        f"# harmony discovery image {'ab' * 32}",
        "kernel http://10.77.0.1:8070/discovery/abab/vmlinuz console=ttyS0 quiet no_timer_check panic=10"
        " harmony.report=http://10.77.0.1:8070/cgi-bin/report harmony.mac=${mac} harmony.poll=5",
        "initrd http://10.77.0.1:8070/discovery/abab/initrd.img",
        "boot",
    ]


def test_modules_load_dependencies_first_and_skip_what_the_kernel_lacks() -> None:
    depends = {"virtio_net": ["net_failover", "virtio"], "net_failover": ["failover"], "failover": [],
               "virtio": [], "virtio_blk": ["virtio"]}  # fmt: skip
    assert module_load_order(depends, ["virtio-net", "virtio_blk", "nvme"]) == [
        "failover", "net_failover", "virtio", "virtio_net", "virtio_blk",
    ]  # fmt: skip
    ko = b"\x7fELF...\0license=GPL\0depends=nvme-core,virtio\0retpoline=Y\0"
    assert module_depends(ko) == ["nvme_core", "virtio"]
    assert module_depends(b"\0depends=\0") == []
    assert module_depends(b"no modinfo") == []


def test_the_initramfs_archive_is_newc_cpio() -> None:
    archive = Cpio()
    archive.directory("bin")
    archive.file("init", b"#!/bin/sh\necho hi\n", mode=0o755)
    archive.file("bin/sh", b"busybox", mode=0o777, symlink=True)
    listing = subprocess.run(
        ["busybox", "cpio", "-t", "-v"], input=gzip.decompress(gzip.compress(archive.finish())),
        capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    lines = listing.splitlines()
    assert [line.split()[-1] if "->" not in line else line.split()[-3] for line in lines] == ["bin", "init", "bin/sh"]
    assert lines[1].startswith("-rwxr-xr-x") and lines[2].startswith("lrwxrwxrwx")
    assert io.BytesIO(archive.finish()).read(6) == b"070701"


def test_a_machine_that_took_a_lease_and_never_reported_is_silent_after_the_timeout() -> None:
    subnet = DhcpSubnet(network=IPv4Network("10.77.0.0/24"), lease_time=600)
    now = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    expires = now + timedelta(seconds=600 - 120)  # leased two minutes ago

    def lease(mac: str, address: str, expiry: datetime | None = expires) -> DhcpLease:
        return DhcpLease(mac=MacAddress(mac), address=IPv4Address(address), expires=expiry)

    reported = DiscoveryReport(mac=MacAddress("52:54:00:00:00:01"), address=None, received=now, text="")
    leases = [
        lease("52:54:00:00:00:01", "10.77.0.101"),  # reported
        lease("52:54:00:00:00:02", "10.77.0.102"),  # silent
        lease("52:54:00:00:00:03", "10.77.0.103", None),  # infinite lease: not judged
        lease("52:54:00:00:00:04", "10.99.0.104"),  # no subnet of ours
    ]
    silent = silent_machines(leases, [subnet], [reported], now=now, timeout=timedelta(seconds=60))
    assert [(str(s.mac), s.waited) for s in silent] == [("52:54:00:00:00:02", timedelta(seconds=120))]
    assert silent[0].reason == "took 10.77.0.102 120s ago and has not reported"
    assert silent_machines(leases, [subnet], [reported], now=now, timeout=timedelta(seconds=121)) == []
