"""``Symlink``: a symbolic link at ``path`` pointing to ``target``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Literal, Protocol, Self

from pydantic import field_validator, model_validator

from harmony.domain.capabilities.files import FileState, ManagedFiles, SymbolicLinks
from harmony.domain.change import Change
from harmony.domain.claims import Claim, PathClaim
from harmony.domain.consistency import resolve_link
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.files.managed_file import absolute_path


class LinkedFiles(ManagedFiles, SymbolicLinks, Protocol):
    """What a ``Symlink`` needs: reading file state, and making links."""


class Symlink(Score[LinkedFiles]):
    """``path`` is a symbolic link to ``target`` (any string; it need not exist). A regular file or a
    directory already at ``path`` is never replaced: the plan says so and the apply fails."""

    kind: Literal["symlink"] = "symlink"
    path: PurePosixPath
    target: str

    _absolute = field_validator("path")(absolute_path)

    @model_validator(mode="after")
    def _not_to_itself(self) -> Self:
        if not self.target:
            raise InvalidValueError("target", self.target, "a path for the link to point to")
        if resolve_link(self.path, self.target) == str(self.path):
            raise InvalidValueError("target", self.target, f"a path other than the link {self.path} itself")
        return self

    def claims(self) -> Sequence[Claim]:
        return (PathClaim(self.path, "symlink", link_target=self.target),)

    @property
    def name(self) -> str:
        return f"symlink:{self.path}"

    def interpret(self) -> Interpret[LinkedFiles]:
        return SymlinkInterpret(self)


class SymlinkInterpret(Interpret[LinkedFiles]):
    def __init__(self, score: Symlink) -> None:
        self.score = score

    async def plan(self, topology: LinkedFiles) -> Sequence[Change]:
        current = (await topology.stat_files([self.score.path], with_content=False))[self.score.path]
        return plan_symlink(self.score, current)

    async def apply(self, topology: LinkedFiles, changes: Sequence[Change]) -> Outcome:
        s = self.score
        current = (await topology.stat_files([s.path], with_content=False))[s.path]
        if current.kind not in ("missing", "symlink"):
            return Outcome.failure(f"{s.path} is a {current.kind}; remove it before it can become a symlink")
        await topology.make_symlink(s.path, s.target)
        return Outcome.success(f"{s.path} -> {s.target}")


def plan_symlink(score: Symlink, current: FileState) -> list[Change]:
    target = f"symlink {score.path}"
    if current.kind == "missing":
        return [Change.create(target, f"-> {score.target}\n")]
    if current.kind != "symlink":
        return [Change.update(target, f"a {current.kind} is in the way; it will not be replaced\n")]
    if current.link_target != score.target:
        return [Change.update(target, f"-> {current.link_target} becomes -> {score.target}\n")]
    return []
