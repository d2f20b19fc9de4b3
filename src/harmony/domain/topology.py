"""A Topology is the place where Scores run; the capabilities it provides are the Protocols it satisfies."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


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
