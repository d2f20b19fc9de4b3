"""``ManagedFile``: a file with the given content and metadata, or absent.

Content may be a ``Secret`` (e.g. ``Secret.render(template, password=settings.database.password)``): the
file is then written in clear, but its plan diff shows only the masked rendering and never the current
content, which may hold the old secret; the Score's JSON form (journal, ``--json``) is masked too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Literal

from pydantic import field_validator

from harmony.domain.capabilities.files import FileState, ManagedFiles
from harmony.domain.change import Change, text_diff
from harmony.domain.claims import AccountUse, Claim, PathClaim, PathKind
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.secret import Secret
from harmony.domain.units import FileMode


def path_claims(path: PurePosixPath, kind: PathKind, *, owner: str | None, group: str | None) -> list[Claim]:
    """``path`` made a ``kind``, and the accounts its metadata needs."""
    claims: list[Claim] = [PathClaim(path, kind)]
    if owner is not None:
        claims.append(AccountUse("user", owner, "owner"))
    if group is not None:
        claims.append(AccountUse("group", group, "group"))
    return claims


def absolute_path(v: PurePosixPath) -> PurePosixPath:
    if not v.is_absolute() or ".." in v.parts:
        raise InvalidValueError("path", str(v), "an absolute path without '..'")
    return v


class ManagedFile(Score[ManagedFiles]):
    """A file at ``path`` with exactly ``content`` (and ``mode``/``owner``/``group`` when given)."""

    kind: Literal["managed_file"] = "managed_file"
    path: PurePosixPath
    content: str | Secret = ""
    mode: FileMode | None = None
    owner: str | None = None
    group: str | None = None
    present: bool = True

    _absolute = field_validator("path")(absolute_path)

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def claims(self) -> Sequence[Claim]:
        if not self.present:
            return (PathClaim(self.path, "absent"),)
        return path_claims(self.path, "file", owner=self.owner, group=self.group)

    def interpret(self) -> Interpret[ManagedFiles]:
        return ManagedFileInterpret(self)


class ManagedFileInterpret(Interpret[ManagedFiles]):
    def __init__(self, score: ManagedFile) -> None:
        self.score = score

    async def plan(self, topology: ManagedFiles) -> Sequence[Change]:
        s = self.score
        current = (await topology.stat_files([s.path], with_content=True))[s.path]
        return plan_file(s, current)

    async def apply(self, topology: ManagedFiles, changes: Sequence[Change]) -> Outcome:
        s = self.score
        if not s.present:
            await topology.remove_path(s.path)
            return Outcome.success(f"removed {s.path}")
        await topology.write_file(s.path, _clear(s.content).encode(), mode=s.mode, owner=s.owner, group=s.group)
        return Outcome.success(f"wrote {s.path}", *(c.target for c in changes))


def plan_file(score: ManagedFile, current: FileState) -> list[Change]:
    """The changes from ``current`` to ``score``: a pure diff, tested as a table."""
    target = f"file {score.path}"
    secret = isinstance(score.content, Secret)
    if not score.present:
        if current.kind == "missing":
            return []
        old = None if secret else _text(current.content)
        return [Change.delete(target, _hidden(score.path) if secret else text_diff(old, None, str(score.path)))]
    if current.kind == "missing":
        return [Change.create(target, _diff(None, score.content, score.path))]
    if current.kind != "file":
        return [Change.update(target, f"replace {current.kind} with a file")]
    notes = ""
    if current.content != _clear(score.content).encode():
        notes = _diff(_text(current.content), score.content, score.path)
    notes += metadata_notes(current, mode=score.mode, owner=score.owner, group=score.group)
    return [Change.update(target, notes)] if notes else []


def metadata_notes(current: FileState, *, mode: int | None, owner: str | None, group: str | None) -> str:
    """The mode/owner/group lines of a diff; empty when the wanted metadata is already there."""
    notes: list[str] = []
    if mode is not None and current.mode != mode:
        notes.append(f"mode {_octal(current.mode)} -> {_octal(mode)}\n")
    if owner is not None and current.owner != owner:
        notes.append(f"owner {current.owner} -> {owner}\n")
    if group is not None and current.group != group:
        notes.append(f"group {current.group} -> {group}\n")
    return "".join(notes)


def _clear(content: str | Secret) -> str:
    return content.reveal() if isinstance(content, Secret) else content


def _diff(before: str | None, after: str | Secret, path: PurePosixPath) -> str:
    if not isinstance(after, Secret):
        return text_diff(before, after, str(path))
    # The current content is never shown: it may hold the previous secret.
    return (_hidden(path) if before is not None else "") + text_diff(None, after.masked, str(path))


def _hidden(path: PurePosixPath) -> str:
    return f"  (current content of {path} not shown: the file holds secrets)\n"


def _text(content: bytes | None) -> str | None:
    if content is None:
        return None
    return content.decode(errors="replace")


def _octal(mode: int | None) -> str:
    return "none" if mode is None else oct(mode)
