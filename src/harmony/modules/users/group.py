"""``Group``: a local group, or absent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator

from harmony.domain.capabilities.users import Accounts, UsersAndGroups
from harmony.domain.change import Change
from harmony.domain.claims import AccountClaim, Claim, NameClaim
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.users.account_name import account_name


class Group(Score[UsersAndGroups]):
    kind: Literal["group"] = "group"
    group: str
    gid: int | None = Field(default=None, ge=0)
    system: bool = False
    present: bool = True

    _name = field_validator("group")(account_name)

    @property
    def name(self) -> str:
        return f"group:{self.group}"

    def claims(self) -> Sequence[Claim]:
        claims: list[Claim] = [AccountClaim("group", self.group, self.present, "group")]
        if self.present and self.gid is not None:
            claims.append(NameClaim("gid", str(self.gid), "gid"))
        return claims

    def interpret(self) -> Interpret[UsersAndGroups]:
        return GroupInterpret(self)


class GroupInterpret(Interpret[UsersAndGroups]):
    def __init__(self, score: Group) -> None:
        self.score = score

    async def plan(self, topology: UsersAndGroups) -> Sequence[Change]:
        return plan_group(self.score, await topology.accounts())

    async def apply(self, topology: UsersAndGroups, changes: Sequence[Change]) -> Outcome:
        s = self.score
        if not s.present:
            await topology.remove_group(s.group)
            return Outcome.success(f"removed group {s.group}")
        await topology.ensure_group(s.group, gid=s.gid, system=s.system)
        return Outcome.success(f"group {s.group} in place")


def plan_group(score: Group, accounts: Accounts) -> list[Change]:
    target = f"group {score.group}"
    current = accounts.groups.get(score.group)
    if not score.present:
        return [Change.delete(target)] if current else []
    if current is None:
        return [Change.create(target, f"gid={score.gid}\n" if score.gid is not None else "")]
    if score.gid is not None and current.gid != score.gid:
        return [Change.update(target, f"gid {current.gid} -> {score.gid}\n")]
    return []
