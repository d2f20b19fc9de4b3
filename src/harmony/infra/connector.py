"""What adapters need from a way of reaching a host: files, commands, daemon pids, plus a connection lifecycle.

Three connectors satisfy it: ``LocalConnector`` (this machine, in-process where Python can do it; with
``netns`` its commands run inside that network namespace while files stay this machine's) and
``SshConnector`` (one multiplexed asyncssh connection per host). All run commands as root (the SSH one
through ``sudo`` when it logs in as another user). ``prefix`` is the directory managed paths are re-rooted
under (only a local sandbox has one); tools that write account or package databases refuse a prefix.

Reads are coalesced: the ``stat_files``, ``read_pids``, ``read_directories`` and ``read_command`` calls
issued in one event-loop tick go to the host together, as one remote command over SSH (locally: one thread
hop for the files, the commands as subprocesses at once). An adapter that gathers its reads
(``asyncio.gather``) therefore costs one round trip per plan, whatever mix of files, pid files,
directories and read-only commands (``dpkg-query``, ``podman ps``, ``nft list``) it reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal, Protocol

from harmony.domain.capabilities.commands import CommandResult, CommandRunner
from harmony.domain.capabilities.files import FileState, ManagedFiles, SymbolicLinks
from harmony.domain.topology import RunLock

type ReadKind = Literal["stat", "content", "pid", "directory"]
type ReadRequest = tuple[PurePosixPath, ReadKind]


@dataclass(frozen=True)
class PidState:
    """The pid named by a pid file when that process is alive (not a zombie), else ``None``."""

    pid: int | None


@dataclass(frozen=True)
class DirectoryState:
    """The regular files directly inside a directory, with their contents; ``None``: no such directory."""

    files: Mapping[str, bytes] | None


type ReadResult = FileState | PidState | DirectoryState


@dataclass(frozen=True)
class CommandRead:
    """A command that only reads (changes nothing on the host), run with the other reads of its tick."""

    argv: tuple[str, ...]
    timeout: float | None = None


type BatchRead = ReadRequest | CommandRead
type BatchResult = ReadResult | CommandResult


class Connector(ManagedFiles, SymbolicLinks, CommandRunner, Protocol):
    @property
    def prefix(self) -> PurePosixPath | None: ...

    @property
    def netns(self) -> str | None:
        """The network namespace commands run in (``ip netns exec``), when not the host's own."""
        ...

    async def open(self) -> None:
        """Connect (and check ``sudo`` when used). Raises a ``TopologyError`` subclass saying what failed."""
        ...

    async def close(self) -> None: ...

    async def read_pids(self, pid_files: Sequence[PurePosixPath]) -> Mapping[PurePosixPath, int | None]:
        """The live pid each pid file names (``None``: no file, garbage, or that process is gone)."""
        ...

    async def read_directories(
        self, directories: Sequence[PurePosixPath]
    ) -> Mapping[PurePosixPath, Mapping[str, bytes] | None]:
        """The regular files directly in each directory, name -> content (``None``: no such directory)."""
        ...

    async def read_command(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        """Run ``argv``, a command that changes nothing on the host, with the other reads of this tick (over
        SSH: in their one round trip); its result as ``run_command`` gives it, ``CommandError`` on timeout."""
        ...

    async def exchange_unix(self, path: PurePosixPath, request: bytes, *, timeout: float) -> bytes:
        """Send ``request`` to the unix stream socket ``path`` on the host (the real path, as commands see it),
        end it, and return the answer read until the peer closes: HAProxy's runtime API and master CLI.
        Locally in-process; over SSH one ``socat`` as root. ``CommandError`` when nothing listens there or
        no answer comes within ``timeout`` seconds."""
        ...

    def follow_lines(self, argv: Sequence[str]) -> AsyncIterator[str]:
        """The output lines of a long-running ``argv`` (stdout and stderr merged) as they come, e.g. a log
        being followed; the program is stopped when the caller stops iterating."""
        ...

    def run_lock(self) -> RunLock:
        """The lock that serializes runs on this host, held on the host itself (see ``domain.topology``)."""
        ...


def split_reads(
    requests: Sequence[ReadRequest], found: Mapping[ReadRequest, ReadResult] | Mapping[BatchRead, BatchResult]
) -> tuple[
    dict[PurePosixPath, FileState], dict[PurePosixPath, int | None], dict[PurePosixPath, Mapping[str, bytes] | None]
]:
    """Sort batched read results by kind (a helper for connectors' public read methods)."""
    files: dict[PurePosixPath, FileState] = {}
    pids: dict[PurePosixPath, int | None] = {}
    dirs: dict[PurePosixPath, Mapping[str, bytes] | None] = {}
    for request in requests:
        result = found[request]
        match result:
            case FileState():
                files[request[0]] = result
            case PidState():
                pids[request[0]] = result.pid
            case DirectoryState():
                dirs[request[0]] = result.files
            case CommandResult():
                raise TypeError(f"a command's result for the read of {request[0]}")
    return files, pids, dirs
