"""``BootServer``: the files network-booting machines fetch — iPXE scripts, a default one and one per MAC.

The bare-metal discovery/install flow: DHCP points a client at the boot server (``NetworkBoot``); its
firmware loads iPXE, iPXE fetches ``ENTRY_SCRIPT``, which chains to the script for the client's MAC and
falls back to the default script. Script locations are part of this contract (``script_path``), so every
backend serves them under the same names.

Consistency contract:
- ``boot_scripts`` only reads; ``put_boot_script`` replaces a script atomically (a client never fetches
  half a script); ``remove_boot_script`` of a missing script is not an error.
- ``put_boot_file`` stores any other file (an iPXE binary) under a relative name.
- Failures raise ``BootError`` (or a subclass).
Not guaranteed: which transport serves the files (TFTP here; HTTP is a backend's choice).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict

from harmony.domain.errors import InvalidValueError
from harmony.domain.values import MacAddress

ENTRY_SCRIPT = "boot.ipxe"
"""What DHCP hands to iPXE clients; it chains the per-MAC script, then the default one."""

ENTRY_SCRIPT_CONTENT = "#!ipxe\nchain --autofree ipxe/${mac:hexhyp}.ipxe || chain --autofree ipxe/default.ipxe\n"

_FILE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def script_path(mac: MacAddress | None) -> str:
    """Where the script of ``mac`` (``None``: the default script) is served, relative to the boot root."""
    return "ipxe/default.ipxe" if mac is None else f"ipxe/{str(mac).replace(':', '-')}.ipxe"


def _boot_file_name(value: str) -> str:
    if not _FILE.match(value) or ".." in value.split("/"):
        raise InvalidValueError("boot file", value, "a relative path of letters, digits, '.', '_' and '-'")
    return value


type BootFileName = Annotated[str, AfterValidator(_boot_file_name)]


class BootScript(BaseModel):
    """An iPXE script for the machine with ``mac``, or the default script when ``mac`` is ``None``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mac: MacAddress | None = None
    content: str

    @property
    def path(self) -> str:
        return script_path(self.mac)


class BootServer(Protocol):
    async def boot_scripts(self) -> Sequence[BootScript]:
        """Every script served now (the entry script is not listed)."""
        ...

    async def put_boot_script(self, script: BootScript) -> None:
        """Serve ``script`` at ``script_path(script.mac)``, replacing what was there."""
        ...

    async def remove_boot_script(self, mac: MacAddress | None) -> None:
        """Stop serving the script of ``mac`` (``None``: the default script)."""
        ...

    async def put_boot_file(self, name: BootFileName, content: bytes) -> None:
        """Serve ``content`` as ``name`` (e.g. an iPXE binary), replacing what was there."""
        ...
