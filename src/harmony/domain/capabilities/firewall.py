"""``Firewall``: zones, ordered allow/deny rules, port forwards and masquerading, default deny — applied
as one atomic switch that rolls itself back when the operator would be locked out.

Rules name zones as ``Zone`` objects (a misspelt zone variable is an undefined name to the type checker);
a ``FirewallPolicy`` checks that every zone a rule, forward or masquerade mentions is one of its zones.
``LOCAL`` is the zone of the firewall host itself (traffic *to* the box, e.g. SSH or DNS on the router).

Consistency contract:
- ``firewall_state`` only reads: the policy last applied and whether the live ruleset still is exactly
  that policy (``in_sync`` is false when someone changed or removed it).
- ``apply_firewall_policy`` replaces the whole ruleset in one atomic step — packets see the old rules or
  the new, never a mix. Then every ``must_reach`` endpoint is probed (a TCP connection from where the
  operator manages the firewall). If one probe fails, the previous ruleset is restored at once and
  ``FirewallRolledBack`` is raised naming the endpoint; ``firewall_state`` reports the previous policy.
  A change that is never confirmed (the applying process dies or loses the box before the probes pass)
  is undone by the firewall host itself after a bounded delay.
- Packets of established connections, and loopback, are always accepted; rules are evaluated in order and
  the first match decides; unmatched traffic is dropped when ``default_deny``.
- Failures raise ``FirewallError`` (or a subclass); a ruleset that cannot be loaded changes nothing.
Not guaranteed: rate limits, logging, IPv6 neighbour discovery details beyond accepting ICMPv6.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.errors import InvalidValueError
from harmony.domain.names import ResourceName
from harmony.domain.values import IPAddress, IPNetwork, Port

type Action = Literal["allow", "deny"]
type Transport = Literal["tcp", "udp"]
type RuleProtocol = Literal["tcp", "udp", "icmp", "any"]
type InterfaceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,15}$", description="e.g. eth0")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Zone(_Model):
    """A set of networks, by the interfaces they arrive on and/or their address ranges."""

    name: ResourceName
    interfaces: tuple[InterfaceName, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.name == "local"


LOCAL = Zone(name=ResourceName("local"))
"""The firewall host itself."""


class Rule(_Model):
    """``action`` traffic from ``source`` to ``destination`` (for ``protocol`` and, for TCP/UDP, ``ports``)."""

    action: Action
    source: Zone
    destination: Zone
    protocol: RuleProtocol = "any"
    ports: tuple[Port, ...] = ()

    @model_validator(mode="after")
    def _ports_need_transport(self) -> Self:
        if self.ports and self.protocol not in ("tcp", "udp"):
            raise InvalidValueError("ports", [int(p) for p in self.ports], f"no ports with protocol {self.protocol}")
        if self.source.is_local and self.destination.is_local:
            raise InvalidValueError("rule", "local -> local", "a rule between two different zones")
        return self

    def describe(self) -> str:
        ports = ",".join(str(p) for p in self.ports)
        what = self.protocol + (f"/{ports}" if ports else "")
        return f"{self.action} {self.source.name} -> {self.destination.name} {what}"


class PortForward(_Model):
    """Connections from ``source`` to this host's ``port`` go to ``to_address:to_port`` (DNAT)."""

    source: Zone
    protocol: Transport = "tcp"
    port: Port
    to_address: IPAddress
    to_port: Port | None = None

    def describe(self) -> str:
        return (
            f"forward {self.source.name} {self.protocol}/{self.port} -> {self.to_address}:{self.to_port or self.port}"
        )


class Masquerade(_Model):
    """Traffic from ``source`` leaving through ``destination`` takes this host's address (SNAT)."""

    source: Zone
    destination: Zone

    def describe(self) -> str:
        return f"masquerade {self.source.name} -> {self.destination.name}"


class Endpoint(_Model):
    """A TCP endpoint that must stay reachable after a firewall change (the operator's way in)."""

    address: IPAddress
    port: Port

    def __str__(self) -> str:
        return f"[{self.address}]:{self.port}" if self.address.version == 6 else f"{self.address}:{self.port}"


class FirewallPolicy(_Model):
    """The whole ruleset of one firewall."""

    zones: tuple[Zone, ...]
    rules: tuple[Rule, ...] = ()
    port_forwards: tuple[PortForward, ...] = ()
    masquerade: tuple[Masquerade, ...] = ()
    default_deny: bool = True

    @model_validator(mode="after")
    def _known_zones(self) -> Self:
        declared: dict[str, Zone] = {}
        interfaces: dict[str, str] = {}
        for zone in self.zones:
            if zone.is_local:
                raise InvalidValueError("zones", zone.name, "zones other than 'local' (the host itself is implied)")
            if zone.name in declared:
                raise InvalidValueError("zones", zone.name, "unique zone names")
            if not zone.interfaces and not zone.networks:
                raise InvalidValueError("zones", zone.name, "a zone with at least one interface or network")
            for nic in zone.interfaces:
                if nic in interfaces:
                    raise InvalidValueError(
                        "zones", f"{nic} in {interfaces[nic]} and {zone.name}", "each interface in one zone"
                    )
                interfaces[nic] = zone.name
            declared[zone.name] = zone
        uses: list[tuple[str, Zone]] = []
        for rule in self.rules:
            uses += [(rule.describe(), rule.source), (rule.describe(), rule.destination)]
        for fwd in self.port_forwards:
            uses.append((fwd.describe(), fwd.source))
        for nat in self.masquerade:
            uses += [(nat.describe(), nat.source), (nat.describe(), nat.destination)]
        for where, zone in uses:
            if zone.is_local:
                continue
            if declared.get(zone.name) != zone:
                known = ", ".join(sorted(declared)) or "none"
                raise InvalidValueError(
                    "zone", zone.name, f"one of the policy's zones ({known}, or local) in {where!r}"
                )
        return self


class FirewallState(_Model):
    """The policy last applied (``None``: never) and whether the live ruleset is still exactly it."""

    policy: FirewallPolicy | None
    in_sync: bool


class Firewall(Protocol):
    async def firewall_state(self) -> FirewallState:
        """The last applied policy and whether the live ruleset still matches it."""
        ...

    async def apply_firewall_policy(self, policy: FirewallPolicy, *, must_reach: Sequence[Endpoint]) -> None:
        """Switch atomically to ``policy``; roll back and raise ``FirewallRolledBack`` if a probe fails."""
        ...
