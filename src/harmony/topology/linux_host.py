"""``LinuxHost``: one Linux machine, providing host capabilities through adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.capabilities.files import FileState
from harmony.domain.errors import TopologyError
from harmony.infra.local_files import LocalFiles
from harmony.infra.local_process import run_local


class LinuxHost:
    """A Linux host. ``LinuxHost.local()`` is the machine Harmony runs on."""

    def __init__(self, *, name: str, files: LocalFiles, create_root: bool = False) -> None:
        self._name = name
        self._files = files
        self._create_root = create_root

    @classmethod
    def local(cls, *, root: Path | None = None, name: str = "localhost", create_root: bool = False) -> LinuxHost:
        """The local machine; ``root`` re-roots managed paths (for tests and sandboxes), created when asked."""
        return cls(name=name, files=LocalFiles(root or Path("/")), create_root=create_root)

    @property
    def name(self) -> str:
        return self._name

    async def ensure_ready(self) -> None:
        root = self._files.root
        if self._create_root:
            root.mkdir(parents=True, exist_ok=True)
        if not root.is_dir():
            raise TopologyError(self._name, f"root directory {root} does not exist; create it or pick another")

    async def close(self) -> None:
        return None

    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        return await self._files.stat_files(paths, with_content=with_content)

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._files.write_file(path, content, mode=mode, owner=owner, group=group)

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._files.make_directory(path, mode=mode, owner=owner, group=group)

    async def remove_path(self, path: PurePosixPath) -> None:
        await self._files.remove_path(path)

    async def run_command(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        return await run_local(argv, stdin=stdin, timeout=timeout)
