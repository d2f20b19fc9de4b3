"""``DhcpServer``: IPv4 subnets with address pools, static reservations by MAC, options and network boot.

Consistency contract:
- ``dhcp_subnets`` only reads: the subnets the server hands addresses out on now.
- ``put_dhcp_subnet`` replaces the subnet with the same ``network`` (or adds it) as a whole; a client
  asking after it returns gets the new pools, reservations and options. Leases already granted stay valid
  until they expire or the client renews.
- ``remove_dhcp_subnet`` stops serving a subnet; a missing subnet is not an error.
- ``dhcp_leases`` reads the leases the server has granted (reservations included once a client took one).
- Failures raise ``DhcpError`` (or a subclass) and leave the previous configuration serving.

A ``DhcpSubnet`` is validated on construction: pools inside the network and not overlapping, reservations
inside the network with unique MACs, addresses and host names. Errors name the offending values.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.errors import InvalidValueError
from harmony.domain.inventory import Host
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, MacAddress

type BootArchitecture = Literal["bios", "uefi-x64", "uefi-arm64"]
"""The firmware a network-booting client announces (DHCP option 93): 0, 7/9 and 11."""

type LeaseTime = Annotated[int, Field(ge=120, le=31_536_000, description="lease time in seconds")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DhcpPool(_Model):
    """Dynamic addresses ``start`` to ``end``, both included."""

    start: IPv4Address
    end: IPv4Address

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise InvalidValueError("pool", f"{self.start}-{self.end}", "start <= end")
        return self

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"

    def overlaps(self, other: DhcpPool) -> bool:
        return self.start <= other.end and other.start <= self.end


class DhcpReservation(_Model):
    """The client with ``mac`` always gets ``address`` (and ``hostname``, if given)."""

    mac: MacAddress
    address: IPv4Address
    hostname: Hostname | None = None

    @classmethod
    def for_host(cls, host: Host) -> DhcpReservation:
        """The reservation of an inventory host: its first NIC's MAC, its address and its name."""
        if not host.nics:
            raise InvalidValueError("host", str(host.name), "a host with at least one NIC to reserve an address for")
        if not isinstance(host.address, IPv4Address):
            raise InvalidValueError("address", str(host.address), f"an IPv4 address for DHCP host {host.name}")
        return cls(mac=host.nics[0].mac, address=host.address, hostname=host.name)


def _default_boot_files() -> Mapping[BootArchitecture, str]:
    return {"bios": "undionly.kpxe", "uefi-x64": "ipxe.efi"}


class NetworkBoot(_Model):
    """PXE: where a booting client fetches its first program from, per firmware architecture.

    A client that already runs iPXE (it says so in its user class) is given ``ipxe_script`` instead, so
    the chain is firmware → iPXE binary → script served by the ``BootServer``.
    """

    next_server: IPv4Address
    boot_files: Mapping[BootArchitecture, str] = Field(
        default_factory=_default_boot_files,
        description="file name on the boot server per client architecture",
    )
    ipxe_script: str = "boot.ipxe"


class DhcpSubnet(_Model):
    """One IPv4 subnet served by DHCP."""

    network: IPv4Network
    pools: tuple[DhcpPool, ...] = ()
    reservations: tuple[DhcpReservation, ...] = ()
    router: IPv4Address | None = None
    dns_servers: tuple[IPv4Address, ...] = ()
    domain: Hostname | None = None
    lease_time: LeaseTime = 3600
    boot: NetworkBoot | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        net = self.network
        for pool in self.pools:
            if pool.start not in net or pool.end not in net:
                raise InvalidValueError("pools", str(pool), f"a range inside {net}")
        ordered = sorted(self.pools, key=lambda p: p.start)
        for a, b in itertools.pairwise(ordered):
            if a.overlaps(b):
                raise InvalidValueError("pools", f"{a} and {b}", "pools that do not overlap")
        for r in self.reservations:
            if r.address not in net:
                raise InvalidValueError("reservations", f"{r.mac} -> {r.address}", f"an address inside {net}")
        _unique("reservation MAC", [str(r.mac) for r in self.reservations])
        _unique("reservation address", [str(r.address) for r in self.reservations])
        _unique("reservation hostname", [str(r.hostname) for r in self.reservations if r.hostname])
        special = {net.network_address: "network address", net.broadcast_address: "broadcast address"}
        if net.prefixlen >= 31:
            special = {}  # point-to-point links (RFC 3021) use both addresses for hosts
        if self.router is not None:
            if self.router not in net:
                raise InvalidValueError("router", str(self.router), f"an address inside {net}")
            if self.router in special:
                raise InvalidValueError(
                    "router", str(self.router), f"a host address of {net}, not its {special[self.router]}"
                )
        for pool in self.pools:
            for address, what in [*special.items(), *([(self.router, "router")] if self.router else [])]:
                if pool.start <= address <= pool.end:
                    raise InvalidValueError(
                        "pools", str(pool), f"a range that leaves out {address}, the {what} of {net}"
                    )
        for r in self.reservations:
            if r.address in special or r.address == self.router:
                what = special.get(r.address, "router")
                raise InvalidValueError(
                    "reservations", f"{r.mac} -> {r.address}", f"an address that is not the {what} of {net}"
                )
        return self


def _unique(what: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise InvalidValueError(what, v, f"each {what} once")
        seen.add(v)


class DhcpLease(_Model):
    mac: MacAddress
    address: IPv4Address
    hostname: Hostname | None = None
    expires: datetime | None = None


class DhcpServer(Protocol):
    async def dhcp_subnets(self) -> Sequence[DhcpSubnet]:
        """The subnets served now."""
        ...

    async def put_dhcp_subnet(self, subnet: DhcpSubnet) -> None:
        """Serve ``subnet`` exactly as given, replacing the subnet with the same network."""
        ...

    async def remove_dhcp_subnet(self, network: IPv4Network) -> None:
        """Stop serving ``network``; a subnet that is not served is not an error."""
        ...

    async def dhcp_leases(self) -> Sequence[DhcpLease]:
        """The leases granted so far."""
        ...
