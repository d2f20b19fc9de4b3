"""``LoadBalancer``: frontends that spread connections over backends, with health checks and runtime
backend operations (add, drain, activate, remove) that never drop an in-flight connection.

Consistency contract:
- ``frontends`` only reads: every frontend as declared now, runtime backend changes included (a backend
  added or drained at run time is part of the declaration afterwards and survives a restart).
- ``put_frontend`` validates the whole new configuration before it takes effect and switches over without
  closing established connections; a frontend whose address and port another frontend already holds is
  rejected with ``LoadBalancerError`` and nothing changes.
- ``drain_backend``: the backend gets no new connections; established ones carry on until they end.
  ``activate_backend`` undoes it. Both take effect at once, without a reload.
- ``remove_backend`` first drains, then waits up to ``grace`` seconds for in-flight connections to end,
  then removes the backend (closing what is still open after ``grace``). Removing a frontend's last
  backend is refused (``LoadBalancerError``): remove the frontend instead.
- ``backend_states`` reads live state: admin state, health and current sessions per backend.
- Failures raise ``LoadBalancerError`` (or a subclass); a rejected configuration leaves the running one.
Not guaranteed: per-request stickiness, or that a health check notices a failure faster than its
``interval * fall``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.errors import InvalidValueError
from harmony.domain.names import NonEmpty, ResourceName
from harmony.domain.units import Duration
from harmony.domain.values import IPAddress, IPv4Address, Port

type ProxyMode = Literal["tcp", "http"]
type Balance = Literal["roundrobin", "leastconn", "source"]
type BackendAdminState = Literal["active", "draining"]
type Weight = Annotated[int, Field(ge=1, le=256)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HealthCheck(_Model):
    """How the load balancer decides a backend is up: a TCP connect, or an HTTP GET of ``path``.

    A backend is taken out after ``fall`` failed checks in a row and back in after ``rise`` good ones.
    """

    protocol: Literal["tcp", "http"] = "tcp"
    path: Annotated[str, Field(pattern=r"^/[^\s]*$")] = "/"
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    interval: Duration = Field(default=timedelta(seconds=2), gt=timedelta(0), description="time between checks")
    rise: Annotated[int, Field(ge=1, le=100)] = 2
    fall: Annotated[int, Field(ge=1, le=100)] = 3


class Backend(_Model):
    """One server behind a frontend."""

    name: ResourceName
    address: IPAddress
    port: Port
    weight: Weight = 1
    state: BackendAdminState = "active"


class Frontend(_Model):
    """Where clients connect (``address:port``) and the backends their connections go to."""

    name: ResourceName
    address: IPAddress = IPv4Address("0.0.0.0")
    port: Port
    mode: ProxyMode = "http"
    balance: Balance = "roundrobin"
    backends: NonEmpty[Backend]
    health_check: HealthCheck | None = HealthCheck()

    @model_validator(mode="after")
    def _unique_backends(self) -> Self:
        names: set[str] = set()
        targets: set[str] = set()
        for b in self.backends:
            if b.name in names:
                raise InvalidValueError("backends", b.name, f"unique backend names in frontend {self.name}")
            target = f"{b.address}:{b.port}"
            if target in targets:
                raise InvalidValueError("backends", target, f"each backend address once in frontend {self.name}")
            names.add(b.name)
            targets.add(target)
            itself = b.address == self.address or (
                self.address.is_unspecified and (b.address.is_loopback or b.address.is_unspecified)
            )
            if b.port == self.port and itself:
                raise InvalidValueError(
                    "backends", f"{b.name} ({target})", f"a backend other than frontend {self.name}'s own {self.bind}"
                )
        return self

    @property
    def bind(self) -> str:
        return f"[{self.address}]:{self.port}" if self.address.version == 6 else f"{self.address}:{self.port}"

    def backend(self, name: str) -> Backend | None:
        return next((b for b in self.backends if b.name == name), None)


def binds_clash(a: Frontend, b: Frontend) -> bool:
    """True when ``a`` and ``b`` cannot both listen: same port on the same or a wildcard address."""
    if a.port != b.port:
        return False
    return a.address == b.address or a.address.is_unspecified or b.address.is_unspecified


def check_binds(frontends: Sequence[Frontend]) -> None:
    """Raise ``InvalidValueError`` naming the two frontends when two of them would listen on one port."""
    for i, a in enumerate(frontends):
        for b in frontends[i + 1 :]:
            if a.name == b.name:
                raise InvalidValueError("frontends", a.name, "unique frontend names")
            if binds_clash(a, b):
                raise InvalidValueError(
                    "frontends", f"{a.name} ({a.bind}) and {b.name} ({b.bind})", "each port used by one frontend"
                )


class BackendHealth(StrEnum):
    UP = "up"
    DOWN = "down"
    UNCHECKED = "unchecked"


class BackendStatus(_Model):
    """What a backend is doing now."""

    frontend: ResourceName
    name: ResourceName
    address: IPAddress
    port: Port
    state: BackendAdminState
    health: BackendHealth
    sessions: Annotated[int, Field(ge=0, description="connections in flight now")]

    @property
    def serving(self) -> bool:
        """True when new connections may go to this backend."""
        return self.state == "active" and self.health is not BackendHealth.DOWN


@runtime_checkable
class LoadBalancer(Protocol):
    async def frontends(self) -> Sequence[Frontend]:
        """Every frontend as declared now, runtime backend changes included."""
        ...

    async def put_frontend(self, frontend: Frontend) -> None:
        """Create or replace the frontend named ``frontend.name``, without dropping connections."""
        ...

    async def remove_frontend(self, name: ResourceName) -> None:
        """Stop listening for ``name``; a missing frontend is not an error."""
        ...

    async def add_backend(self, frontend: ResourceName, backend: Backend) -> None:
        """Add ``backend`` to a frontend (replacing one with the same name); it serves once healthy."""
        ...

    async def drain_backend(self, frontend: ResourceName, backend: ResourceName) -> None:
        """No new connections to ``backend``; in-flight ones finish."""
        ...

    async def activate_backend(self, frontend: ResourceName, backend: ResourceName) -> None:
        """Undo a drain: ``backend`` takes new connections again."""
        ...

    async def remove_backend(self, frontend: ResourceName, backend: ResourceName, *, grace: float = 30.0) -> None:
        """Drain ``backend``, wait up to ``grace`` seconds for its connections to end, then remove it."""
        ...

    async def backend_states(self, frontend: ResourceName) -> Sequence[BackendStatus]:
        """Live state of every backend of ``frontend``."""
        ...
