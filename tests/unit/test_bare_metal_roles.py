"""Bare metal roles, pure parts and the installer's report program: assignments refused before any machine
boots (never discovered, duplicate MAC, no such disk, disk too small), the install script and seed, and the
``installed`` CGI program run for real by busybox sh (state stored; the local boot script on success only)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from harmony.domain.capabilities.discovery import DiscoveryEndpoint, DiscoveryImage
from harmony.domain.capabilities.installation import LOCAL_BOOT_SCRIPT, InstallImage
from harmony.domain.discovery import DiscoveredMachine
from harmony.domain.errors import InvalidValueError
from harmony.domain.hardware import Disk, HardwareFacts
from harmony.domain.installation import (
    MachineRole,
    RoleAssignment,
    check_assignment,
    install_script,
    seed_archive,
    seed_file,
)
from harmony.domain.values import Hostname, IPv4Address, MacAddress, Port
from harmony.infra.busybox_httpd import INSTALLED_CGI, parse_install_state
from harmony.modules.bare_metal import MachineRoles

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0bVn1o0v0PmxQ2zK3P5wGdXJtq2m0Sx3xq6Qe7vS harmony@test"
ENDPOINT = DiscoveryEndpoint(address=IPv4Address("10.77.0.1"), port=Port(8070))
IMAGE = InstallImage(
    digest="ab" * 32, file="install/abababababababab/disk.img.gz", sha256="cd" * 32,
    size_bytes=1536 * 2**20, compressed_bytes=366_000_000, seed_sector=3129344, suite="bookworm",
)  # fmt: skip
BOOT = DiscoveryImage(
    digest="ef" * 32, kernel="discovery/efefefefefefefef/vmlinuz", initrd="discovery/efefefefefefefef/initrd.img",
    kernel_version="6.1.0-56-amd64", size_bytes=40_000_000,
)  # fmt: skip


def assignment(mac: str = "52:54:00:19:01:01", **update: object) -> RoleAssignment:
    base = RoleAssignment(
        mac=MacAddress(mac), hostname=Hostname("web-1"), role=MachineRole(name="web", min_disk_bytes=2 * 2**30),
        ssh_public_key=KEY, address=IPv4Address("10.77.0.50"),
    )  # fmt: skip
    return base.model_copy(update=update)


def machine(mac: str = "52:54:00:19:01:01", disk_bytes: int = 3 * 2**30) -> DiscoveredMachine:
    facts = HardwareFacts(
        cpu_model="QEMU", cpu_count=2, memory_bytes=2**30, disks=(Disk(name="vda", size_bytes=disk_bytes),)
    )
    return DiscoveredMachine(
        mac=MacAddress(mac), address=IPv4Address("10.77.0.100"), seen=datetime.now(UTC), facts=facts
    )


def test_an_assignment_for_a_discovered_machine_with_a_big_enough_disk_passes() -> None:
    check_assignment("assignments[0]", assignment(), machine(), IMAGE)


@pytest.mark.parametrize(
    ("a", "m", "message"),
    [
        (assignment(), None, r"assignments\[0\]\.mac: '52:54:00:19:01:01' is not valid; expected the boot MAC"),
        (assignment(), machine(disk_bytes=2**30),
         r"assignments\[0\]\.disk: 'vda of 52:54:00:19:01:01 \(1073741824 bytes\)'.* at least 2147483648 bytes"),
        (assignment(role=MachineRole(name="db", min_disk_bytes=0)), machine(disk_bytes=2**30),
         r"the install image is 1610612736"),
        (assignment(disk="sdb"), machine(), r"assignments\[0\]\.disk: 'sdb'.*one of the disks .* reported: vda"),
    ],
)  # fmt: skip
def test_an_assignment_that_cannot_be_installed_is_refused_naming_the_field(
    a: RoleAssignment, m: DiscoveredMachine | None, message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        check_assignment("assignments[0]", a, m, IMAGE)


@pytest.mark.parametrize(
    ("second", "field"),
    [
        (assignment(hostname=Hostname("web-2"), address=IPv4Address("10.77.0.51")), "mac"),
        (assignment("52:54:00:19:01:02", address=IPv4Address("10.77.0.51")), "hostname"),
        (assignment("52:54:00:19:01:02", hostname=Hostname("web-2")), "address"),
    ],
)
def test_two_assignments_of_the_same_machine_name_or_address_are_refused(second: RoleAssignment, field: str) -> None:
    with pytest.raises(ValidationError, match=rf"assignments\[1\]\.{field}: .* not already in assignments\[0\]"):
        MachineRoles(endpoint=ENDPOINT, assignments=(assignment(), second))


@pytest.mark.parametrize(
    ("field", "value"),
    [("ssh_public_key", "not a key"), ("ssh_public_key", KEY + "\nssh-rsa AAAA x"), ("disk", "/dev/vda")],
)
def test_a_bad_key_or_disk_name_is_refused(field: str, value: str) -> None:
    data = assignment().model_dump() | {field: value}
    with pytest.raises(ValidationError, match=field):
        RoleAssignment.model_validate(data)


def test_the_seed_holds_the_hostname_and_the_key_and_is_deterministic() -> None:
    seed = seed_archive(assignment())
    assert seed == seed_archive(assignment())
    with tarfile.open(fileobj=io.BytesIO(seed)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert {n: (m.mode, m.uid) for n, m in members.items()} == {
            "etc/hostname": (0o644, 0), "etc/hosts": (0o644, 0), "root/.ssh": (0o700, 0),
            "root/.ssh/authorized_keys": (0o600, 0),
        }  # fmt: skip
        keys = tar.extractfile("root/.ssh/authorized_keys")
        hostname = tar.extractfile("etc/hostname")
        assert keys is not None and hostname is not None
        assert keys.read().decode() == KEY + "\n"
        assert hostname.read() == b"web-1\n"
    assert seed_file(assignment(), seed).startswith("install/seeds/52-54-00-19-01-01-")


def test_the_install_script_boots_the_installer_with_everything_it_needs() -> None:
    script = install_script(ENDPOINT, BOOT, IMAGE, assignment(), "install/seeds/x.tar")
    assert script.startswith("#!ipxe\n")
    kernel = next(line for line in script.splitlines() if line.startswith("kernel "))
    for arg in (
        "http://10.77.0.1:8070/discovery/efefefefefefefef/vmlinuz",
        "harmony.mac=${mac}",
        "harmony.install=http://10.77.0.1:8070/install/abababababababab/disk.img.gz",
        f"harmony.sha256={'cd' * 32}",
        f"harmony.size={1536 * 2**20}",
        "harmony.disk=vda",
        "harmony.seed=http://10.77.0.1:8070/install/seeds/x.tar",
        "harmony.seed_sector=3129344",
        "harmony.done=http://10.77.0.1:8070/cgi-bin/installed",
    ):
        assert arg in kernel.split(), arg


def run_cgi(tmp_path: Path, query: str, body: bytes) -> str:
    installs, docroot = tmp_path / "installs", tmp_path / "docroot"
    (docroot / "ipxe").mkdir(parents=True, exist_ok=True)
    installs.mkdir(exist_ok=True)
    cgi = INSTALLED_CGI.replace(
        "#!/bin/sh\n",
        f"#!/bin/sh\nINSTALLS='{installs}'\nDOCROOT='{docroot}'\nLOCAL_SCRIPT='{LOCAL_BOOT_SCRIPT}'\n",
        1,
    )
    env = {"PATH": os.environ["PATH"], "QUERY_STRING": query, "CONTENT_LENGTH": str(len(body))}
    done = subprocess.run(["busybox", "sh", "-c", cgi], input=body, env=env, capture_output=True, check=True)
    return done.stdout.decode()


def test_the_installed_program_stores_a_failure_and_leaves_the_install_script(tmp_path: Path) -> None:
    script = tmp_path / "docroot" / "ipxe" / "52-54-00-19-01-01.ipxe"
    script.parent.mkdir(parents=True)
    script.write_text("#!ipxe\n# install\n")
    answer = run_cgi(tmp_path, "mac=52:54:00:19:01:01&status=failed", b"the image did not arrive whole")
    assert answer.endswith("ok\n")
    state = parse_install_state("52-54-00-19-01-01", (tmp_path / "installs" / "52-54-00-19-01-01.state").read_text())
    assert state is not None
    assert (state.status, state.detail) == ("failed", "the image did not arrive whole")
    assert script.read_text() == "#!ipxe\n# install\n"


def test_the_installed_program_switches_the_machine_to_its_disk_on_success(tmp_path: Path) -> None:
    answer = run_cgi(tmp_path, "mac=52:54:00:19:01:01&status=installed", b"image cdcd on /dev/vda")
    assert answer.endswith("ok\n")
    assert (tmp_path / "docroot" / "ipxe" / "52-54-00-19-01-01.ipxe").read_text() == LOCAL_BOOT_SCRIPT
    state = parse_install_state("52-54-00-19-01-01", (tmp_path / "installs" / "52-54-00-19-01-01.state").read_text())
    assert state is not None and state.status == "installed" and str(state.mac) == "52:54:00:19:01:01"


@pytest.mark.parametrize("query", ["status=installed", "mac=52:54:00:19:01:01&status=done", "mac=zz&status=failed"])
def test_the_installed_program_refuses_a_bad_query_and_stores_nothing(tmp_path: Path, query: str) -> None:
    answer = run_cgi(tmp_path, query, b"")
    assert "error:" in answer
    assert list((tmp_path / "installs").iterdir()) == []
    assert list((tmp_path / "docroot" / "ipxe").iterdir()) == []


def test_a_stored_install_state_that_is_not_one_is_ignored() -> None:
    assert parse_install_state("52-54-00-19-01-01", "garbage") is None
    assert parse_install_state("52-54-00-19-01-01", "status=maybe\nreceived=1\n") is None


def test_the_installed_program_stamps_the_report_with_the_generation_harmony_served(tmp_path: Path) -> None:
    (tmp_path / "installs").mkdir()
    (tmp_path / "installs" / "52-54-00-19-01-01.generation").write_text("3\n")
    run_cgi(tmp_path, "mac=52:54:00:19:01:01&status=installed", b"image cdcd on /dev/vda")
    state = parse_install_state("52-54-00-19-01-01", (tmp_path / "installs" / "52-54-00-19-01-01.state").read_text())
    assert state is not None and (state.status, state.generation) == ("installed", 3)
    # a report of an older edge (no generation on its first line) is generation 1
    old = parse_install_state("52-54-00-19-01-01", "status=failed\nreceived=1764336000\nno disk\n")
    assert old is not None and (old.status, old.generation, old.detail) == ("failed", 1, "no disk")


def test_a_reinstall_is_asked_by_a_later_generation_only() -> None:
    assert assignment().generation == 1
    with pytest.raises(ValidationError, match="generation"):
        RoleAssignment.model_validate({**assignment().model_dump(), "generation": 0})
    again = assignment(generation=2)
    script = install_script(ENDPOINT, BOOT, IMAGE, again, "seed/x.tar")
    assert "generation 2" in script.splitlines()[1]
