# fails: type check
"""Per-host Scores on a group whose hosts cannot manage accounts: the function's User is rejected."""

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from harmony.domain.capabilities.files import FileState
from harmony.domain.host_group import HostGroup
from harmony.modules.files import ManagedFile
from harmony.modules.users import User


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


group = HostGroup(hosts=[FilesOnly(), FilesOnly()])
files = group.deploy(lambda host: [ManagedFile(path=PurePosixPath(f"/srv/{host.name}"))])
users = group.deploy(lambda host: [ManagedFile(path=PurePosixPath("/a")), User(user=host.name)])  # expect-error
