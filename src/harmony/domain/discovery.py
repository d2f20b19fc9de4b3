"""Discovered machines: a report turned into typed facts, and into an inventory entry.

Pure: the reports come from a ``MachineDiscovery`` capability; this module reads them
(``discovered``), builds the iPXE script that boots the discovery image (``discovery_script``) and makes an
``Inventory`` ``Host`` of a machine (``DiscoveredMachine.as_host``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from harmony.domain.capabilities.dhcp import DhcpLease, DhcpSubnet
from harmony.domain.capabilities.discovery import DiscoveryEndpoint, DiscoveryImage, DiscoveryReport
from harmony.domain.errors import InvalidValueError
from harmony.domain.hardware import HardwareFacts, parse_report
from harmony.domain.inventory import Host, Nic
from harmony.domain.units import Bytes
from harmony.domain.values import Hostname, IPAddress, MacAddress

KERNEL_ARGS = "no_timer_check panic=10"
"""Every boot of the image: no IO-APIC timer check (a slow or emulated machine fails it and panics), and a
panic reboots after 10 s (the machine boots again) instead of hanging."""

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
        """This machine as an inventory entry: its NICs, hardware and boot address, and the CPUs and memory it
        reported (what ``harmony check`` fits the Scores placed on it into)."""
        if self.address is None or self.facts is None:
            raise InvalidValueError(
                f"machine {self.mac}", self.problem or "no address", "a readable report sent from an address"
            )
        return Host(
            name=name or self.default_name,
            address=self.address,
            nics=tuple(Nic(name=n.name, mac=n.mac) for n in self.facts.nics),
            hardware=self.facts,
            cpus=self.facts.cpu_count,
            memory=Bytes(self.facts.memory_bytes) if self.facts.memory_bytes > 0 else None,
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
        f"kernel {url}/{image.kernel} console=ttyS0 quiet {KERNEL_ARGS} harmony.report={url}{REPORT_PATH}"
        f" harmony.mac=${{mac}} harmony.poll={poll_seconds}\n"
        f"initrd {url}/{image.initrd}\n"
        "boot\n"
    )


class SilentMachine(BaseModel):
    """A machine that took a DHCP lease on a discovery network but never reported (its boot stopped, the
    image could not reach the endpoint, or it is no machine of ours)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mac: MacAddress
    address: IPAddress
    leased: datetime
    waited: timedelta

    @property
    def reason(self) -> str:
        return f"took {self.address} {self.waited.total_seconds():.0f}s ago and has not reported"


def silent_machines(
    leases: Sequence[DhcpLease],
    subnets: Sequence[DhcpSubnet],
    reports: Sequence[DiscoveryReport],
    *,
    now: datetime,
    timeout: timedelta,
) -> list[SilentMachine]:
    """Leases older than ``timeout`` whose MAC has no report (pure). A lease's start is its expiry minus its
    subnet's lease time; a lease without expiry (infinite) or outside every subnet is not judged."""
    reported = {r.mac for r in reports}
    found: list[SilentMachine] = []
    for lease in sorted(leases, key=lambda x: str(x.mac)):
        subnet = next((s for s in subnets if lease.address in s.network), None)
        if lease.mac in reported or lease.expires is None or subnet is None:
            continue
        leased = lease.expires - timedelta(seconds=subnet.lease_time)
        if now - leased >= timeout:
            found.append(SilentMachine(mac=lease.mac, address=lease.address, leased=leased, waited=now - leased))
    return found
