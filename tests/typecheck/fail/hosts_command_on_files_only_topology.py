# fails: type check
"""A guarded Command needs to run programs: a files-only topology cannot."""

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from harmony.domain.capabilities.files import FileState
from harmony.domain.deployment import Deployment
from harmony.modules.commands import Command


class FilesOnly:
    @property
    def name(self) -> str:
        return "files-only"

    async def ensure_ready(self) -> None: ...

    async def close(self) -> None: ...

    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        return {}

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None: ...

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None: ...

    async def make_symlink(self, path: PurePosixPath, target: str) -> None: ...

    async def remove_path(self, path: PurePosixPath) -> None: ...


deployment = Deployment(topology=FilesOnly(), scores=[Command(argv=("make",))])  # expect-error
