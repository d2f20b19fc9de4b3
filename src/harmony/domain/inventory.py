"""The physical material: hosts with typed addresses, MACs, roles and labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.errors import InvalidValueError
from harmony.domain.values import Hostname, IPAddress, MacAddress, Port


class Nic(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    mac: MacAddress
    address: IPAddress | None = None


class Host(BaseModel):
    """One machine. ``labels`` and ``groups`` select hosts (``site=office``, ``web``); ``roles`` say what it is
    for. ``ssh_port``, ``user`` and ``key`` say how to log in over SSH (``key``: a private key file; without
    one, the SSH agent and the default keys are tried)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Hostname
    address: IPAddress
    nics: tuple[Nic, ...] = ()
    roles: frozenset[str] = frozenset()
    labels: Mapping[str, str] = Field(default_factory=dict[str, str])
    groups: frozenset[str] = frozenset()
    ssh_port: Port = Port(22)
    user: str = "root"
    key: Path | None = None

    def matches(self, selector: Mapping[str, str]) -> bool:
        """True when every ``key=value`` of ``selector`` is among this host's labels."""
        return all(self.labels.get(k) == v for k, v in selector.items())


class Inventory(BaseModel):
    """A set of hosts with unique names, addresses and MACs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hosts: tuple[Host, ...]

    @model_validator(mode="after")
    def _unique(self) -> Inventory:
        _reject_duplicates("host name", [str(h.name) for h in self.hosts])
        _reject_duplicates("host address and SSH port", [f"{h.address} port {h.ssh_port}" for h in self.hosts])
        _reject_duplicates("MAC address", [str(n.mac) for h in self.hosts for n in h.nics])
        return self

    def select(
        self, *, role: str | None = None, group: str | None = None, labels: Mapping[str, str] | None = None
    ) -> list[Host]:
        """Hosts that have ``role`` and are in ``group`` (each if given) and have all of ``labels``."""
        wanted = labels or {}
        return [
            h
            for h in self.hosts
            if (role is None or role in h.roles) and (group is None or group in h.groups) and h.matches(wanted)
        ]


def _reject_duplicates(what: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise InvalidValueError(what, v, f"each {what} to appear once in the inventory")
        seen.add(v)
