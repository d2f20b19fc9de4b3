"""Higher-order topologies: a primary and a replica of any topology ``T``.

``FailoverTopology[T]`` holds the pair and gets both ready. It provides a capability only through a
subclass that requires ``T`` to provide it, like Rust's blanket ``impl<T: Cap> Cap for Failover<T>``: one
class per capability, never one per (topology x capability). ``FilesFailover(primary=a, replica=b)`` is a
type error unless ``a`` and ``b`` provide ``ManagedFiles``, on pyright and mypy alike.

Why not self-typed methods on ``FailoverTopology`` itself (``def write_file(self: FailoverTopology[
ManagedFiles], ...)``)? pyright honours such restrictions when matching a Protocol, but mypy ignores them
(python/mypy#14243), so the static guarantee would hold on one checker only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Protocol

from harmony.domain.capabilities.files import FileState, ManagedFiles
from harmony.domain.topology import Topology


class FailoverTopology[T: Topology]:
    """A primary and a replica of the same kind of topology."""

    def __init__(self, *, primary: T, replica: T, name: str | None = None) -> None:
        self._primary = primary
        self._replica = replica
        self._name = name or f"failover({primary.name}, {replica.name})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def primary(self) -> T:
        return self._primary

    @property
    def replica(self) -> T:
        return self._replica

    async def ensure_ready(self) -> None:
        await asyncio.gather(self._primary.ensure_ready(), self._replica.ensure_ready())

    async def close(self) -> None:
        await asyncio.gather(self._primary.close(), self._replica.close())


class FilesTopology(ManagedFiles, Topology, Protocol):
    """A topology that provides managed files."""


class FilesFailover[T: FilesTopology](FailoverTopology[T]):
    """Managed files kept identical on primary and replica: reads from the primary, writes to both.

    A write is applied to the primary first, then the replica; if the replica write fails the error says
    so and a re-plan shows the replica's difference (the primary is not rolled back).
    """

    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        primary, replica = await asyncio.gather(
            self.primary.stat_files(paths, with_content=with_content),
            self.replica.stat_files(paths, with_content=with_content),
        )
        # A path is only "as wanted" when both sides agree; otherwise report the replica's state so the
        # plan shows the change it needs.
        return {p: primary[p] if primary[p] == replica[p] else replica[p] for p in paths}

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        for side in (self.primary, self.replica):
            await side.write_file(path, content, mode=mode, owner=owner, group=group)

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        for side in (self.primary, self.replica):
            await side.make_directory(path, mode=mode, owner=owner, group=group)

    async def remove_path(self, path: PurePosixPath) -> None:
        for side in (self.primary, self.replica):
            await side.remove_path(path)
