"""Roles of discovered machines: which MAC becomes which host, and the boot script that installs it.

Pure: ``RoleAssignment`` says what one machine becomes (its hostname, the SSH key Harmony logs in with,
the disk to install onto, its role and the address it is reserved); ``check_assignment`` refuses an
assignment that cannot work before any machine is booted (a MAC never discovered, no such disk, a disk
smaller than the role needs); ``install_script`` is the iPXE script that runs the installer;
``seed_archive`` is the machine's own tar archive (hostname, ``authorized_keys``) that the installer
writes to the seed partition of the install image.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from harmony.domain.capabilities.dhcp import DhcpReservation
from harmony.domain.capabilities.discovery import DiscoveryEndpoint, DiscoveryImage
from harmony.domain.capabilities.installation import INSTALLED_PATH, InstallImage
from harmony.domain.discovery import KERNEL_ARGS, REPORT_PATH, DiscoveredMachine
from harmony.domain.errors import InvalidValueError
from harmony.domain.inventory import Host
from harmony.domain.values import Hostname, IPv4Address, MacAddress

_SSH_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [^\n\r]*)?$")
_DISK = re.compile(r"^[a-z][a-z0-9]{1,15}$")


def _ssh_public_key(value: str) -> str:
    value = value.strip()
    if not _SSH_KEY.match(value):
        raise InvalidValueError(
            "ssh_public_key", value[:40], "one OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)"
        )
    return value


def _disk_name(value: str) -> str:
    if not _DISK.match(value):
        raise InvalidValueError("disk", value, "a kernel disk name such as vda, sda or nvme0n1 (no /dev/)")
    return value


type SshPublicKey = Annotated[str, AfterValidator(_ssh_public_key)]
type DiskName = Annotated[str, AfterValidator(_disk_name)]


class MachineRole(BaseModel):
    """What kind of machine a role needs: ``min_disk_bytes`` (the install image must fit as well)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=63)
    min_disk_bytes: int = Field(default=0, ge=0)


class RoleAssignment(BaseModel):
    """The machine whose boot NIC is ``mac`` becomes host ``hostname`` with ``role``: installed onto
    ``disk``, reachable as root with the private half of ``ssh_public_key``, at ``address`` (a DHCP
    reservation on the edge: see ``reservation``). A machine is installed once; raising ``generation``
    asks for one more install (everything on its disk is lost) at its next network boot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mac: MacAddress
    hostname: Hostname
    role: MachineRole
    ssh_public_key: SshPublicKey
    address: IPv4Address
    disk: DiskName = "vda"
    generation: int = Field(default=1, ge=1)

    @property
    def reservation(self) -> DhcpReservation:
        """The DHCP reservation that gives the installed machine its ``address`` and name."""
        return DhcpReservation(mac=self.mac, address=self.address, hostname=self.hostname)

    def host(self, *, key: Path | None = None) -> Host:
        """The installed machine as an inventory host (root over SSH with ``key``, the private key)."""
        return Host(name=self.hostname, address=self.address, roles=frozenset({self.role.name}), key=key)


def required_disk_bytes(assignment: RoleAssignment, image: InstallImage) -> int:
    return max(assignment.role.min_disk_bytes, image.size_bytes)


def check_assignment(
    field: str, assignment: RoleAssignment, machine: DiscoveredMachine | None, image: InstallImage
) -> None:
    """Refuse (``InvalidValueError`` naming ``field``) an assignment that cannot be installed."""
    mac = assignment.mac
    if machine is None:
        raise InvalidValueError(
            f"{field}.mac",
            str(mac),
            "the boot MAC of a discovered machine (harmony inventory discovered lists them): power it on "
            "on a network with NetworkDiscovery and wait for its report",
        )
    if machine.facts is None:
        raise InvalidValueError(
            f"{field}.mac", str(mac), f"a machine whose report could be read (its report: {machine.problem})"
        )
    disks = {d.name: d for d in machine.facts.disks}
    disk = disks.get(assignment.disk)
    if disk is None:
        raise InvalidValueError(
            f"{field}.disk", assignment.disk, f"one of the disks {mac} reported: {', '.join(sorted(disks)) or 'none'}"
        )
    need = required_disk_bytes(assignment, image)
    if disk.size_bytes < need:
        raise InvalidValueError(
            f"{field}.disk",
            f"{disk.name} of {mac} ({disk.size_bytes} bytes)",
            f"a disk of at least {need} bytes (role {assignment.role.name} needs {assignment.role.min_disk_bytes}, "
            f"the install image is {image.size_bytes}): give this role another machine or a smaller minimum",
        )


def seed_archive(assignment: RoleAssignment) -> bytes:
    """The machine's own files as a tar archive (deterministic: no times, owner root)."""
    name = str(assignment.hostname)
    entries: list[tuple[str, bytes | None, int]] = [
        ("etc/hostname", f"{name}\n".encode(), 0o644),
        ("etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {name}\n::1 localhost ip6-localhost\n".encode(), 0o644),
        ("root/.ssh", None, 0o700),
        ("root/.ssh/authorized_keys", f"{assignment.ssh_public_key}\n".encode(), 0o600),
    ]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path, content, mode in entries:
            info = tarfile.TarInfo(path)
            info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, 0, "root", "root"
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def seed_file(assignment: RoleAssignment, seed: bytes) -> str:
    """Where the seed of ``assignment`` is served under the boot root (named by its content)."""
    digest = hashlib.sha256(seed).hexdigest()[:16]
    return f"install/seeds/{str(assignment.mac).replace(':', '-')}-{digest}.tar"


def install_script(
    endpoint: DiscoveryEndpoint,
    boot: DiscoveryImage,
    image: InstallImage,
    assignment: RoleAssignment,
    seed_name: str,
) -> str:
    """The iPXE script that boots the discovery image in install mode for ``assignment``."""
    url = endpoint.url
    args = (
        f"harmony.mac=${{mac}} harmony.report={url}{REPORT_PATH} harmony.done={url}{INSTALLED_PATH}"
        f" harmony.install={url}/{image.file} harmony.sha256={image.sha256} harmony.size={image.size_bytes}"
        f" harmony.disk={assignment.disk} harmony.seed={url}/{seed_name} harmony.seed_sector={image.seed_sector}"
    )
    return (
        "#!ipxe\n"
        f"# harmony install: {assignment.hostname} (role {assignment.role.name}), generation"
        f" {assignment.generation}, image {image.digest[:16]}\n"
        f"kernel {url}/{boot.kernel} console=ttyS0 quiet {KERNEL_ARGS} {args}\n"
        f"initrd {url}/{boot.initrd}\n"
        "boot\n"
    )


def unique_assignments(assignments: tuple[RoleAssignment, ...]) -> tuple[RoleAssignment, ...]:
    """``assignments`` when no MAC, hostname or address is in two of them; else ``InvalidValueError``."""
    for label, key in (("mac", "mac"), ("hostname", "hostname"), ("address", "address")):
        seen: Mapping[str, int] = {}
        for i, a in enumerate(assignments):
            value = str(getattr(a, key))
            if value in seen:
                raise InvalidValueError(
                    f"assignments[{i}].{label}",
                    value,
                    f"a {label} not already in assignments[{seen[value]}]: one role per machine",
                )
            seen = {**seen, value: i}
    return assignments
