"""Long-running services on a host, and the heartbeats by which an always-on agent says it is alive.

``ServiceManager`` is the swap point between systemd units and supervised pid-file daemons: a Score says
which program runs as which service, never how the host runs services. ``HeartbeatMonitor`` reads an
agent's heartbeats where they are kept (NATS KV in the fleet): ``heartbeat_mark`` then
``wait_heartbeat(after=mark)`` proves a heartbeat sent *after* the mark, with no clock compared across
machines (the mark is the store's revision).
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

type ServiceManagerKind = Literal["systemd", "daemon"]


class ServiceSpec(BaseModel):
    """A foreground program run as a service. ``revision`` names what it runs (e.g. its binary's and
    config's digests): a running service with another revision is restarted."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    argv: tuple[str, ...] = Field(min_length=1)
    description: str = ""
    revision: str = ""


class ServiceState(BaseModel):
    model_config = ConfigDict(frozen=True)

    running: bool
    revision: str | None
    """The revision the running (or last started) service was started with; None: never started."""
    manager: ServiceManagerKind


class ServiceManager(Protocol):
    async def service_state(self, spec: ServiceSpec) -> ServiceState: ...

    async def start_service(self, spec: ServiceSpec) -> None:
        """Start it, or restart it when it runs; raises ``ServiceError`` with its last log lines."""
        ...


class ServiceRemover(Protocol):
    async def remove_service(self, spec: ServiceSpec) -> None:
        """Stop it and forget it (its unit, its revision); a service that is not there is not an error."""
        ...


class HeartbeatMonitor(Protocol):
    async def heartbeat_mark(self, agent: str) -> int:
        """Where the agent's heartbeats are now (0: none yet)."""
        ...

    async def wait_heartbeat(self, agent: str, *, after: int, timeout: float) -> bool:
        """True once a heartbeat later than ``after`` is seen; False after ``timeout`` seconds."""
        ...
