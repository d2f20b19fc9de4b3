"""A plan is a list of typed changes: what an apply would create, update or delete, with a human diff."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NONE = "none"


class Change(BaseModel):
    """One change to one resource. ``target`` names the resource (``file /etc/motd``, ``user deploy``)."""

    model_config = ConfigDict(frozen=True)

    action: Action
    target: str
    diff: str = ""

    @classmethod
    def create(cls, target: str, diff: str = "") -> Change:
        return cls(action=Action.CREATE, target=target, diff=diff)

    @classmethod
    def update(cls, target: str, diff: str = "") -> Change:
        return cls(action=Action.UPDATE, target=target, diff=diff)

    @classmethod
    def delete(cls, target: str, diff: str = "") -> Change:
        return cls(action=Action.DELETE, target=target, diff=diff)


def pending(changes: Sequence[Change]) -> list[Change]:
    """The changes that would do something (``Action.NONE`` entries only inform)."""
    return [c for c in changes if c.action is not Action.NONE]


def text_diff(before: str | None, after: str | None, name: str) -> str:
    """A unified diff between two texts, for a plan; ``None`` means the file does not exist."""
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        (after or "").splitlines(keepends=True),
        fromfile="/dev/null" if before is None else f"a/{name.lstrip('/')}",
        tofile="/dev/null" if after is None else f"b/{name.lstrip('/')}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
