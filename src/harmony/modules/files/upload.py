"""``UploadedFile``: a local file copied to the host, byte for byte, with the given metadata.

The plan compares the host's content with the local file's (read when the plan runs), so an unchanged
file is a NOOP. Binary content shows in the plan as a size change, not a text diff.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import field_validator

from harmony.domain.capabilities.files import FileState, ManagedFiles
from harmony.domain.change import Change, text_diff
from harmony.domain.claims import Claim
from harmony.domain.errors import InterpretError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.units import FileMode
from harmony.modules.files.managed_file import absolute_path, metadata_notes, path_claims


class UploadedFile(Score[ManagedFiles]):
    """The local file ``source`` copied to ``path`` on the host."""

    kind: Literal["uploaded_file"] = "uploaded_file"
    source: Path
    path: PurePosixPath
    mode: FileMode | None = None
    owner: str | None = None
    group: str | None = None

    _absolute = field_validator("path")(absolute_path)

    @property
    def name(self) -> str:
        return f"upload:{self.path}"

    def claims(self) -> Sequence[Claim]:
        return path_claims(self.path, "file", owner=self.owner, group=self.group)

    def interpret(self) -> Interpret[ManagedFiles]:
        return UploadedFileInterpret(self)


class UploadedFileInterpret(Interpret[ManagedFiles]):
    def __init__(self, score: UploadedFile) -> None:
        self.score = score

    def _content(self, step: str) -> bytes:
        try:
            return self.score.source.read_bytes()
        except OSError as e:
            raise InterpretError(self.score.name, step, f"cannot read {self.score.source}: {e.strerror}") from e

    async def plan(self, topology: ManagedFiles) -> Sequence[Change]:
        content = self._content("plan")
        current = (await topology.stat_files([self.score.path], with_content=True))[self.score.path]
        return plan_upload(self.score, content, current)

    async def apply(self, topology: ManagedFiles, changes: Sequence[Change]) -> Outcome:
        s = self.score
        await topology.write_file(s.path, self._content("apply"), mode=s.mode, owner=s.owner, group=s.group)
        return Outcome.success(f"uploaded {s.source} to {s.path}")


def plan_upload(score: UploadedFile, content: bytes, current: FileState) -> list[Change]:
    target = f"file {score.path}"
    if current.kind == "missing":
        return [Change.create(target, _describe(None, content, str(score.path)))]
    if current.kind != "file":
        return [Change.update(target, f"replace {current.kind} with a file\n")]
    notes = _describe(current.content, content, str(score.path)) if current.content != content else ""
    notes += metadata_notes(current, mode=score.mode, owner=score.owner, group=score.group)
    return [Change.update(target, notes)] if notes else []


def _describe(before: bytes | None, after: bytes, name: str) -> str:
    try:
        return text_diff(None if before is None else before.decode(), after.decode(), name)
    except UnicodeDecodeError:
        return f"binary content: {0 if before is None else len(before)} -> {len(after)} bytes\n"
