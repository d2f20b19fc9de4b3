"""The physical material: hosts with typed addresses, MACs, roles, labels and per-host variables.

A host's ``variables`` are free-form (they often come from a file); ``variables_as(Model)`` reads them into
a pydantic model of the user's own, so the code that uses them is typed and a wrong value is an error
naming the host, the variable and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from harmony.domain.errors import InvalidValueError
from harmony.domain.hardware import HardwareFacts
from harmony.domain.units import Size
from harmony.domain.values import Hostname, IPAddress, MacAddress, Port


class Nic(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    mac: MacAddress
    address: IPAddress | None = None


class HostResources(BaseModel):
    """What a machine has for the Scores placed on it: CPUs and memory (``None``: not said, not checked)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpus: float | None = Field(default=None, gt=0, description="CPUs (cores or threads) the host has")
    memory: Size | None = Field(default=None, gt=0, description='memory the host has, e.g. GiB(16) or "16GiB"')


def resources_of(topology: object) -> HostResources | None:
    """The resources of the machine behind ``topology``: a topology that knows them says so in ``resources``."""
    found: object = getattr(topology, "resources", None)
    return found if isinstance(found, HostResources) else None


class Host(BaseModel):
    """One machine. ``labels`` and ``groups`` select hosts (``site=office``, ``web``); ``roles`` say what it is
    for. ``ssh_port``, ``user`` and ``key`` say how to log in over SSH (``key``: a private key file; without
    one, the SSH agent and the default keys are tried). ``variables`` are this host's own values (a user
    name, a size, a port), read typed with ``variables_as``. ``cpus`` and ``memory``, when given, let
    ``harmony check`` refuse Scores whose resource limits together do not fit on the host. ``hardware``: what
    the machine reported when it was discovered (``harmony.domain.discovery``)."""

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
    variables: Mapping[str, JsonValue] = Field(default_factory=dict[str, JsonValue])
    cpus: float | None = Field(default=None, gt=0, description="CPUs (cores or threads) the host has")
    memory: Size | None = Field(default=None, gt=0, description='memory the host has, e.g. GiB(16) or "16GiB"')
    hardware: HardwareFacts | None = None

    @property
    def resources(self) -> HostResources | None:
        """``cpus`` and ``memory`` together, or ``None`` when the inventory says neither."""
        if self.cpus is None and self.memory is None:
            return None
        return HostResources(cpus=self.cpus, memory=self.memory)

    def variables_as[M: BaseModel](self, model: type[M]) -> M:
        """This host's ``variables`` read into ``model``; ``InvalidValueError`` names the variable if one is wrong."""
        return read_variables(model, self.variables, host=str(self.name))

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


def read_variables[M: BaseModel](model: type[M], variables: Mapping[str, JsonValue], *, host: str) -> M:
    """``variables`` of ``host`` read into ``model``; the first wrong or missing variable is named in the error."""
    try:
        return model.model_validate(dict(variables))
    except ValidationError as e:
        first = e.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or model.__name__
        if first["type"] == "missing":
            given = ", ".join(sorted(variables)) or "none"
            raise InvalidValueError(
                f"host {host}: variable {name}", None, f"a value (this host's variables are: {given})"
            ) from e
        raise InvalidValueError(f"host {host}: variable {name}", first["input"], first["msg"]) from e


def _reject_duplicates(what: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise InvalidValueError(what, v, f"each {what} to appear once in the inventory")
        seen.add(v)
