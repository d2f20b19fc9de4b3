"""``MachineDiscovery``: unknown machines boot a small image from the network and report their hardware.

The flow: DHCP and the default boot script (``BootServer``) start the discovery image on any machine that
has no script of its own; the image reports the machine's facts to the ``DiscoveryEndpoint`` (HTTP), then
polls it. ``discovery_reports`` lists what came in, one report per boot MAC (the latest wins).

Consistency contract:
- ``discovery_image`` builds the image or takes it from a cache keyed by the hash of its inputs; the same
  inputs give the same ``digest``. It may take minutes the first time (a kernel package download).
- ``serve_discovery`` publishes the image's files and starts the endpoint; it is idempotent.
- ``discovery_reports`` only reads; a report that is not a valid inventory keeps its text and says why.
- Failures raise ``BootError`` (or a subclass).
Not guaranteed: that a machine ever reports (see ``harmony.domain.discovery.awaiting``), nor the order of
reports from machines that boot together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from harmony.domain.capabilities.boot import BootFileName
from harmony.domain.values import IPAddress, IPv4Address, MacAddress, Port


class DiscoveryEndpoint(BaseModel):
    """Where discovered machines report: ``http://address:port/``, on the network they boot on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: IPv4Address
    port: Port = Port(8070)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"


class DiscoveryImage(BaseModel):
    """A built discovery image: a kernel and an initramfs, named by the hash of everything they are built from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    digest: str
    kernel: BootFileName
    initrd: BootFileName
    kernel_version: str
    size_bytes: int


class DiscoveryReport(BaseModel):
    """What one machine sent last: its boot MAC, where it sent from, when, and the report's text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mac: MacAddress
    address: IPAddress | None
    received: datetime
    text: str


@runtime_checkable
class MachineDiscovery(Protocol):
    async def discovery_image(self) -> DiscoveryImage:
        """The discovery image, built or taken from the cache."""
        ...

    async def served_discovery(self) -> DiscoveryEndpoint | None:
        """The endpoint that receives reports now (``None``: none runs)."""
        ...

    async def serve_discovery(self, endpoint: DiscoveryEndpoint, image: DiscoveryImage) -> None:
        """Publish ``image``'s files and receive reports at ``endpoint``."""
        ...

    async def discovery_reports(self) -> Sequence[DiscoveryReport]:
        """The latest report of every machine that reported, by boot MAC."""
        ...
