"""``MachineInstaller``: machines with a role are installed from a disk image the edge serves over HTTP.

The flow: a machine with a script of its own (``BootServer``) boots the discovery image in install mode;
it reports ``installing``, writes the install image onto its disk, checks it, writes its own seed
(hostname, SSH key) and reports ``installed`` or ``failed`` to the discovery endpoint. On ``installed`` the
endpoint itself replaces that machine's script by ``LOCAL_BOOT_SCRIPT``, so its next network boot goes to
its disk even when no Harmony run happens in between; on ``failed`` (and while ``installing``) the script
stays and the next boot tries again.

Consistency contract:
- ``install_image`` builds the image or takes it from a cache keyed by the hash of its inputs; the same
  inputs give the same ``digest``. The first build takes minutes (debootstrap downloads Debian's packages).
- ``serve_install_image`` publishes the image's file at ``image.file`` under the boot root; idempotent.
- ``install_states`` only reads: the latest report of every machine that ran the installer, by boot MAC.
- Failures raise ``BootError`` (or a subclass).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.capabilities.boot import BootFileName
from harmony.domain.values import MacAddress

LOCAL_BOOT_SCRIPT = (
    "#!ipxe\n# harmony: installed, boots from its own disk\nsanboot --no-describe --drive 0x80 || exit\n"
)
"""The script of an installed machine: boot the first BIOS disk (``exit``: let the firmware go on)."""

INSTALLED_PATH = "/cgi-bin/installed"
"""Where, under the discovery endpoint's URL, the installer reports (``?mac=<boot MAC>&status=...``)."""


class InstallImage(BaseModel):
    """A built install image: ``file`` (gzip) under the boot root and its ``sha256`` (what the installer
    checks as it downloads); ``size_bytes`` of the raw image; ``seed_sector``: where on the disk each
    machine's own seed archive goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    digest: str
    file: BootFileName
    sha256: str
    size_bytes: int
    compressed_bytes: int
    seed_sector: int
    suite: str


class InstallState(BaseModel):
    """What the installer of one machine reported last: ``installing`` (it started writing the disk; ``detail``
    says what where), ``installed``, or ``failed`` with the reason; or
    ``requested``: Harmony asked for a new install (a ``RoleAssignment`` of a later ``generation``) and the
    machine has not reported since. ``generation``: the install generation the report belongs to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mac: MacAddress
    status: Literal["installing", "installed", "failed", "requested"]
    received: datetime
    detail: str = ""
    generation: int = Field(default=1, ge=1)


@runtime_checkable
class MachineInstaller(Protocol):
    async def install_image(self) -> InstallImage:
        """The install image, built or taken from the cache."""
        ...

    async def install_image_served(self, image: InstallImage) -> bool:
        """Whether ``image``'s file is published under the boot root."""
        ...

    async def serve_install_image(self, image: InstallImage) -> None:
        """Publish ``image``'s file under the boot root."""
        ...

    async def install_states(self) -> Sequence[InstallState]:
        """The latest installer report of every machine that ran it, by boot MAC."""
        ...

    async def request_install(self, mac: MacAddress, generation: int, *, reinstall: bool) -> None:
        """Stamp the machine's next installer report with ``generation``; ``reinstall``: also replace its
        ``installed`` report by a ``requested`` one of that generation (its install script is served again)."""
        ...
