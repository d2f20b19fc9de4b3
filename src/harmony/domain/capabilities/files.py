"""``ManagedFiles``: read and atomically write files on a host.

Consistency contract:
- ``stat_files`` reads many paths in one round trip and never changes anything; a path that does not
  exist is reported with ``kind="missing"``, never as an error.
- ``write_file`` is atomic: the new content appears whole under ``path`` or not at all (temporary file
  in the same directory, then rename). Mode, owner and group are set before the rename.
- ``SymbolicLinks.make_symlink`` replaces a link at ``path`` atomically (a new link, then rename).
- Failures raise ``FilesError`` (or a subclass) naming the path and the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

type FileKind = Literal["file", "directory", "symlink", "other", "missing"]


class FileState(BaseModel):
    """What is at a path now. ``content`` is read only for regular files and only when asked for."""

    model_config = ConfigDict(frozen=True)

    path: PurePosixPath
    kind: FileKind
    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    content: bytes | None = None
    link_target: str | None = None


class ManagedFiles(Protocol):
    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        """The state of every path in one round trip."""
        ...

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        """Atomically replace ``path`` with ``content`` and the given metadata (``None``: leave as is)."""
        ...

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        """Create the directory (its parent must exist) or fix the metadata of an existing one."""
        ...

    async def remove_path(self, path: PurePosixPath) -> None:
        """Remove a file or an empty directory; a missing path is not an error."""
        ...


class SymbolicLinks(Protocol):
    """Symbolic links on a host: a separate capability, so every ``ManagedFiles`` need not provide it."""

    async def make_symlink(self, path: PurePosixPath, target: str) -> None:
        """Make ``path`` a symbolic link to ``target``, atomically replacing a link that is there."""
        ...
