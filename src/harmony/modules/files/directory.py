"""``ManagedDirectory``: a directory with the given metadata."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Literal

from pydantic import field_validator

from harmony.domain.capabilities.files import FileState, ManagedFiles
from harmony.domain.change import Change
from harmony.domain.claims import Claim
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.units import FileMode
from harmony.modules.files.managed_file import absolute_path, metadata_notes, path_claims


class ManagedDirectory(Score[ManagedFiles]):
    """A directory at ``path`` (its parent must exist), with ``mode``/``owner``/``group`` when given."""

    kind: Literal["managed_directory"] = "managed_directory"
    path: PurePosixPath
    mode: FileMode | None = None
    owner: str | None = None
    group: str | None = None

    _absolute = field_validator("path")(absolute_path)

    @property
    def name(self) -> str:
        return f"directory:{self.path}"

    def claims(self) -> Sequence[Claim]:
        return path_claims(self.path, "directory", owner=self.owner, group=self.group)

    def interpret(self) -> Interpret[ManagedFiles]:
        return ManagedDirectoryInterpret(self)


class ManagedDirectoryInterpret(Interpret[ManagedFiles]):
    def __init__(self, score: ManagedDirectory) -> None:
        self.score = score

    async def plan(self, topology: ManagedFiles) -> Sequence[Change]:
        current = (await topology.stat_files([self.score.path], with_content=False))[self.score.path]
        return plan_directory(self.score, current)

    async def apply(self, topology: ManagedFiles, changes: Sequence[Change]) -> Outcome:
        s = self.score
        await topology.make_directory(s.path, mode=s.mode, owner=s.owner, group=s.group)
        return Outcome.success(f"directory {s.path} in place")


def plan_directory(score: ManagedDirectory, current: FileState) -> list[Change]:
    target = f"directory {score.path}"
    if current.kind == "missing":
        return [Change.create(target)]
    if current.kind != "directory":
        return [Change.update(target, f"a {current.kind} is in the way; remove it first\n")]
    notes = metadata_notes(current, mode=score.mode, owner=score.owner, group=score.group)
    return [Change.update(target, notes)] if notes else []
