"""What a machine is made of, as it reported it: CPU, memory, disks, NICs and its DMI identity.

``parse_report`` reads the ``key=value`` lines that the discovery image's inventory program prints
(``src/harmony/infra/discovery_files/inventory``); it is pure and tested as a table. A report that is not
such a text is an ``InvalidValueError`` naming the line, never a half-filled ``HardwareFacts``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.errors import InvalidValueError
from harmony.domain.values import MacAddress


class Disk(BaseModel):
    """A block device: its kernel name (``vda``, ``sda``, ``nvme0n1``), size and serial number (``""``: none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    size_bytes: int = Field(ge=0)
    serial: str = ""


class NetworkInterface(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    mac: MacAddress


class HardwareFacts(BaseModel):
    """One machine's hardware. ``memory_bytes`` is the installed memory (online memory blocks), not what
    the kernel has left after reserving its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_model: str
    cpu_count: int = Field(ge=1)
    memory_bytes: int = Field(ge=0)
    disks: tuple[Disk, ...] = ()
    nics: tuple[NetworkInterface, ...] = ()
    dmi_vendor: str = ""
    dmi_product: str = ""
    dmi_serial: str = ""

    @property
    def largest_disk(self) -> Disk | None:
        return max(self.disks, key=lambda d: d.size_bytes, default=None)


_SCALARS = ("cpu_model", "cpu_count", "memory_bytes", "dmi_vendor", "dmi_product", "dmi_serial")
_REQUIRED = ("cpu_model", "cpu_count", "memory_bytes")


def parse_report(text: str) -> HardwareFacts:
    """The facts in an inventory report; ``InvalidValueError`` names the first line that is not valid."""
    scalars: dict[str, str] = {}
    disks: list[Disk] = []
    nics: list[NetworkInterface] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        where = f"inventory report line {number}"
        if not sep:
            raise InvalidValueError(where, line, "key=value")
        if key in _SCALARS:
            scalars[key] = value.strip()
            continue
        if key not in ("disk", "nic"):
            raise InvalidValueError(where, line, f"one of the keys {', '.join((*_SCALARS, 'disk', 'nic'))}")
        try:
            if key == "disk":
                name, size, *serial = value.split(" ", 2)
                disks.append(Disk(name=name, size_bytes=int(size), serial=" ".join(serial).strip()))
            else:
                name, mac = value.split()
                nics.append(NetworkInterface(name=name, mac=MacAddress(mac)))
        except ValueError as e:
            raise InvalidValueError(where, line, f"'disk=NAME SIZE SERIAL' or 'nic=NAME MAC' ({e})") from e
    missing = [k for k in _REQUIRED if not scalars.get(k)]
    if missing:
        raise InvalidValueError("inventory report", ", ".join(missing), "present (the report is incomplete)")
    try:
        return HardwareFacts.model_validate({**scalars, "disks": disks, "nics": nics})
    except ValueError as e:
        raise InvalidValueError("inventory report", text[:200], f"valid hardware facts ({e})") from e
