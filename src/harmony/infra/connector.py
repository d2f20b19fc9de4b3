"""What ``LinuxHost`` needs from a way of reaching a host: files and commands, plus a connection lifecycle.

Two connectors satisfy it: ``LocalConnector`` (this machine, in-process where Python can do it) and
``SshConnector`` (one multiplexed asyncssh connection per host). Both run commands as root (the SSH one
through ``sudo`` when it logs in as another user). ``prefix`` is the directory managed paths are re-rooted
under (only a local sandbox has one); tools that write account or package databases refuse a prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import PurePosixPath
from typing import Protocol

from harmony.domain.capabilities.commands import CommandRunner
from harmony.domain.capabilities.files import ManagedFiles, SymbolicLinks
from harmony.domain.topology import RunLock


class Connector(ManagedFiles, SymbolicLinks, CommandRunner, Protocol):
    @property
    def prefix(self) -> PurePosixPath | None: ...

    async def open(self) -> None:
        """Connect (and check ``sudo`` when used). Raises a ``TopologyError`` subclass saying what failed."""
        ...

    async def close(self) -> None: ...

    def follow_lines(self, argv: Sequence[str]) -> AsyncIterator[str]:
        """The output lines of a long-running ``argv`` (stdout and stderr merged) as they come, e.g. a log
        being followed; the program is stopped when the caller stops iterating."""
        ...

    def run_lock(self) -> RunLock:
        """The lock that serializes runs on this host, held on the host itself (see ``domain.topology``)."""
        ...
