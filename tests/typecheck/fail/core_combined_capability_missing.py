# fails: type check
"""A Score needing files AND commands on a topology that only provides files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Literal, Protocol

from harmony import Change, Deployment, Interpret, ManagedFiles, Outcome, Score
from harmony.domain.capabilities import CommandRunner, FileState


class FilesAndCommands(ManagedFiles, CommandRunner, Protocol): ...


class ReloadingConfig(Score[FilesAndCommands]):
    kind: Literal["corpus_fail_reloading_config"] = "corpus_fail_reloading_config"

    def interpret(self) -> Interpret[FilesAndCommands]:
        raise NotImplementedError


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

    async def remove_path(self, path: PurePosixPath) -> None: ...


_unused: tuple[type[Change], type[Outcome]] = (Change, Outcome)
deployment = Deployment(topology=FilesOnly(), scores=[ReloadingConfig()])  # expect-error
