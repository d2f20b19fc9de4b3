"""A Topology is the place where Scores run; the capabilities it provides are the Protocols it satisfies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict


@runtime_checkable
class Topology(Protocol):
    """Every topology has a name, gets ready once before a run, and releases what it holds after."""

    @property
    def name(self) -> str: ...

    async def ensure_ready(self) -> None:
        """Check (or establish) that the place can be worked on: connections, daemons, permissions.

        Raises ``TopologyError`` with what is missing and what to do about it.
        """
        ...

    async def close(self) -> None:
        """Release connections and processes opened by ``ensure_ready`` or the capabilities."""
        ...


@runtime_checkable
class PreparedWhilePlanning(Protocol):
    """A topology whose ``ensure_ready`` has two halves: ``connect`` (reach the target) and ``prepare`` (what
    its role needs there — Debian packages, a state directory, a daemon's base configuration — made when
    missing). The Maestro connects, then runs ``prepare`` together with the plans, so that over SSH the
    reads of both share one round trip; when ``prepare`` changed something, the plans are made again (they
    may have read the target before it was ready), and an error of ``prepare`` wins over the plans' own.
    ``prepare`` changes nothing once the target is ready: on a no-op run it only reads.
    """

    async def connect(self) -> None: ...

    async def prepare(self) -> bool:
        """Make the target ready for this role; whether anything had to be changed there."""
        ...


class LockHolder(BaseModel):
    """Who holds a run lock: written next to the lock by its holder, read by whoever waits for it."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    pid: int
    host: str
    started: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"run {self.run_id} (pid {self.pid} on {self.host}, started {when})"


type OnWait = Callable[[LockHolder | None], None]


class RunLock(Protocol):
    """A lock on one target (a host, a state directory), across processes, held for a whole run.

    Guaranteed: while one run holds it, ``acquire`` in any other process on any machine that reaches the
    same target does not return. The lock dies with its holder (a killed process releases it); nothing
    has to clean it up.
    """

    @property
    def target(self) -> str:
        """Where the lock is, for messages."""
        ...

    async def acquire(self, holder: LockHolder, *, wait: float | None, on_wait: OnWait) -> None:
        """Take the lock; while another run holds it call ``on_wait`` once with that run, and keep trying
        for ``wait`` seconds (``None``: as long as it takes). Raises ``TargetBusyError`` naming the holder."""
        ...

    async def release(self) -> None: ...


@runtime_checkable
class LockedTarget(Protocol):
    """A topology whose target can be locked: the Maestro holds ``run_lock()`` from before planning to
    the end of the run, so two runs on one target take turns instead of failing each other."""

    def run_lock(self) -> RunLock: ...


@runtime_checkable
class ReachedOverTheNetwork(Protocol):
    """A topology that says which TCP ports of its machine Harmony connects to (SSH)."""

    @property
    def management_ports(self) -> tuple[int, ...]: ...


@runtime_checkable
class ServesOwnPorts(Protocol):
    """A topology whose own daemons answer on known ports (DNS, DHCP, TFTP on a router): ``(protocol, port)``."""

    @property
    def served_ports(self) -> tuple[tuple[str, int], ...]: ...


def management_ports_of(topology: object) -> tuple[int, ...]:
    """The TCP ports Harmony reaches the machine behind ``topology`` on: a firewall that cuts them would lock
    Harmony out. None when the topology does not say (a local machine, a namespace)."""
    return topology.management_ports if isinstance(topology, ReachedOverTheNetwork) else ()


def served_ports_of(topology: object) -> tuple[tuple[str, int], ...] | None:
    """What the topology's own daemons serve; ``None``: not known, so no firewall rule is called unused."""
    return topology.served_ports if isinstance(topology, ServesOwnPorts) else None
