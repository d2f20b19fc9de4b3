"""Discovered machines: a report turned into typed facts, and into an inventory entry.

Pure: the reports come from a ``MachineDiscovery`` capability; this module reads them
(``discovered``), builds the iPXE script that boots the discovery image (``discovery_script``) and makes an
``Inventory`` ``Host`` of a machine (``DiscoveredMachine.as_host``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from harmony.domain.capabilities.discovery import DiscoveryEndpoint, DiscoveryImage, DiscoveryReport
from harmony.domain.errors import InvalidValueError
from harmony.domain.hardware import HardwareFacts, parse_report
from harmony.domain.inventory import Host, Nic
from harmony.domain.values import Hostname, IPAddress, MacAddress

REPORT_PATH = "/cgi-bin/report"
"""Where, under the endpoint's URL, the discovery image posts its report (``?mac=<boot MAC>``)."""


class DiscoveredMachine(BaseModel):
    """A machine that reported: its boot MAC, address, when, and its facts (``None`` with ``problem`` when
    its report could not be read)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mac: MacAddress
    address: IPAddress | None
    seen: datetime
    facts: HardwareFacts | None
    problem: str | None = None

    @property
    def default_name(self) -> Hostname:
        """``m-525400aa0007``: a name derived from the boot MAC, until an operator gives it one."""
        return Hostname("m-" + str(self.mac).replace(":", ""))

    def as_host(self, name: Hostname | None = None) -> Host:
        """This machine as an inventory entry (its NICs, hardware and boot address)."""
        if self.address is None or self.facts is None:
            raise InvalidValueError(
                f"machine {self.mac}", self.problem or "no address", "a readable report sent from an address"
            )
        return Host(
            name=name or self.default_name,
            address=self.address,
            nics=tuple(Nic(name=n.name, mac=n.mac) for n in self.facts.nics),
            hardware=self.facts,
        )


def discovered(reports: Sequence[DiscoveryReport]) -> list[DiscoveredMachine]:
    """Every report read into a machine, by MAC; an unreadable one keeps its problem."""
    machines: list[DiscoveredMachine] = []
    for r in sorted(reports, key=lambda r: str(r.mac)):
        try:
            facts, problem = parse_report(r.text), None
        except InvalidValueError as e:
            facts, problem = None, str(e)
        machines.append(DiscoveredMachine(mac=r.mac, address=r.address, seen=r.received, facts=facts, problem=problem))
    return machines


def discovery_script(endpoint: DiscoveryEndpoint, image: DiscoveryImage, *, poll_seconds: int = 5) -> str:
    """The default iPXE script: boot ``image`` over HTTP, telling it where to report and which NIC booted."""
    url = endpoint.url
    return (
        "#!ipxe\n"
        f"# harmony discovery image {image.digest}\n"
        f"kernel {url}/{image.kernel} console=ttyS0 quiet harmony.report={url}{REPORT_PATH}"
        f" harmony.mac=${{mac}} harmony.poll={poll_seconds}\n"
        f"initrd {url}/{image.initrd}\n"
        "boot\n"
    )
