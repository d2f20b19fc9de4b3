# fails: type check
"""A files failover pair built from topologies that do not provide managed files."""

from __future__ import annotations

from harmony.topology.failover import FilesFailover


class Bare:
    @property
    def name(self) -> str:
        return "bare"

    async def ensure_ready(self) -> None: ...

    async def close(self) -> None: ...


pair = FilesFailover(primary=Bare(), replica=Bare())  # expect-error
