"""The machine Harmony runs on: files in-process (``LocalFiles``), commands as local subprocesses.

With ``netns`` commands run inside that network namespace (``ip netns exec``) while files stay this
machine's: a router simulated by a namespace on this machine. The reads of one event-loop tick
(``stat_files``, ``read_pids``, ``read_directories``) are coalesced into one hop to a worker thread
(1,000 plans reading one file each cost one thread hop, not 1,000); a ``read_command`` is a subprocess of
its own, started at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.capabilities.files import FileState
from harmony.domain.errors import CommandError, TopologyError
from harmony.domain.topology import RunLock
from harmony.infra import unix_socket
from harmony.infra.coalesce import Coalescer
from harmony.infra.connector import ReadRequest, ReadResult, split_reads
from harmony.infra.local_files import LocalFiles
from harmony.infra.local_process import run_local
from harmony.infra.programs import IP
from harmony.infra.run_lock import LocalRunLock, lock_file_for


class LocalConnector:
    """``root`` re-roots managed paths (a sandbox); commands always run against the real system."""

    def __init__(
        self, *, name: str, root: Path = Path("/"), create_root: bool = False, netns: str | None = None
    ) -> None:
        self._name = name
        self._files = LocalFiles(root)
        self._create_root = create_root
        self._netns = netns
        self._reads: Coalescer[ReadRequest, ReadResult] = Coalescer(self._files.read_many)

    @property
    def root(self) -> Path:
        return self._files.root

    @property
    def prefix(self) -> PurePosixPath | None:
        return None if self._files.root == Path("/") else PurePosixPath(self._files.root)

    @property
    def netns(self) -> str | None:
        return self._netns

    async def open(self) -> None:
        root = self._files.root
        if self._create_root:
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise TopologyError(
                    self._name,
                    f"cannot create root directory {root}: {e.strerror or e}; make it writable or pick another",
                ) from e
        if not root.is_dir():
            raise TopologyError(self._name, f"root directory {root} does not exist; create it or pick another")
        if self._netns is not None and not await asyncio.to_thread(Path(f"/run/netns/{self._netns}").exists):
            raise TopologyError(self._name, f"network namespace {self._netns!r} does not exist (ip netns add)")

    async def close(self) -> None:
        return None

    def run_lock(self) -> RunLock:
        return LocalRunLock(lock_file_for(self._files.root), topology=self._name)

    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        requests: list[ReadRequest] = [(p, "content" if with_content else "stat") for p in paths]
        return split_reads(requests, await self._reads.get(requests))[0]

    async def read_pids(self, pid_files: Sequence[PurePosixPath]) -> Mapping[PurePosixPath, int | None]:
        requests: list[ReadRequest] = [(p, "pid") for p in pid_files]
        return split_reads(requests, await self._reads.get(requests))[1]

    async def read_directories(
        self, directories: Sequence[PurePosixPath]
    ) -> Mapping[PurePosixPath, Mapping[str, bytes] | None]:
        requests: list[ReadRequest] = [(p, "directory") for p in directories]
        return split_reads(requests, await self._reads.get(requests))[2]

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._files.write_file(path, content, mode=mode, owner=owner, group=group)

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._files.make_directory(path, mode=mode, owner=owner, group=group)

    async def make_symlink(self, path: PurePosixPath, target: str) -> None:
        await self._files.make_symlink(path, target)

    async def remove_path(self, path: PurePosixPath) -> None:
        await self._files.remove_path(path)

    async def run_command(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        return await run_local(argv, stdin=stdin, timeout=timeout, netns=self._netns)

    async def read_command(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        # a subprocess costs the same batched or not: nothing to coalesce here
        return await run_local(argv, timeout=timeout, netns=self._netns)

    async def exchange_unix(self, path: PurePosixPath, request: bytes, *, timeout: float) -> bytes:
        # a filesystem socket is reachable from any network namespace: no process needed
        return await unix_socket.exchange_unix(path, request, timeout=timeout)

    async def follow_lines(self, argv: Sequence[str]) -> AsyncIterator[str]:
        try:
            proc = await asyncio.create_subprocess_exec(
                *(IP.argv("netns", "exec", self._netns, *argv) if self._netns else argv),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as e:
            raise CommandError(" ".join(argv), None, e.strerror or str(e)) from e
        assert proc.stdout is not None
        try:
            async for line in proc.stdout:
                yield line.decode(errors="replace").rstrip("\n")
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
