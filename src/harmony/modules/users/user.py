"""``User``: a local user account with the given attributes, or absent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, field_validator

from harmony.domain.capabilities.users import Accounts, UsersAndGroups
from harmony.domain.change import Change
from harmony.domain.claims import AccountClaim, AccountUse, Claim, NameClaim
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.users.account_name import account_name


class User(Score[UsersAndGroups]):
    """A user ``user``. Attributes left ``None`` are not managed; ``groups`` (when given) is the exact set of
    secondary groups. A new non-system user gets a home directory."""

    kind: Literal["user"] = "user"
    user: str
    uid: int | None = Field(default=None, ge=0)
    primary_group: str | None = None
    groups: tuple[str, ...] | None = None
    home: str | None = None
    shell: str | None = None
    comment: str | None = None
    system: bool = False
    present: bool = True

    _name = field_validator("user")(account_name)

    @property
    def name(self) -> str:
        return f"user:{self.user}"

    def claims(self) -> Sequence[Claim]:
        claims: list[Claim] = [AccountClaim("user", self.user, self.present, "user")]
        if not self.present:
            return claims
        if self.uid is not None:
            claims.append(NameClaim("uid", str(self.uid), "uid"))
        if self.primary_group is not None:
            claims.append(AccountUse("group", self.primary_group, "primary_group"))
        claims += [AccountUse("group", g, "groups") for g in self.groups or ()]
        return claims

    def interpret(self) -> Interpret[UsersAndGroups]:
        return UserInterpret(self)


class UserInterpret(Interpret[UsersAndGroups]):
    def __init__(self, score: User) -> None:
        self.score = score

    async def plan(self, topology: UsersAndGroups) -> Sequence[Change]:
        return plan_user(self.score, await topology.accounts())

    async def apply(self, topology: UsersAndGroups, changes: Sequence[Change]) -> Outcome:
        s = self.score
        if not s.present:
            await topology.remove_user(s.user)
            return Outcome.success(f"removed user {s.user}")
        await topology.ensure_user(
            s.user,
            uid=s.uid,
            primary_group=s.primary_group,
            groups=s.groups,
            home=s.home,
            shell=s.shell,
            comment=s.comment,
            system=s.system,
        )
        return Outcome.success(f"user {s.user} in place", *(c.diff.strip() for c in changes if c.diff))


def plan_user(score: User, accounts: Accounts) -> list[Change]:
    """The changes from ``accounts`` to ``score``: a pure diff, tested as a table."""
    target = f"user {score.user}"
    current = accounts.users.get(score.user)
    if not score.present:
        return [Change.delete(target)] if current else []
    if current is None:
        return [Change.create(target, _describe(score))]
    notes: list[str] = []
    if score.uid is not None and current.uid != score.uid:
        notes.append(f"uid {current.uid} -> {score.uid}")
    if score.primary_group is not None:
        group = accounts.groups.get(score.primary_group)
        if group is None or group.gid != current.gid:
            notes.append(f"primary group gid {current.gid} -> {score.primary_group}")
    if score.groups is not None:
        have = accounts.groups_of(score.user)
        if have != frozenset(score.groups):
            notes.append(f"groups {','.join(sorted(have)) or '-'} -> {','.join(sorted(score.groups)) or '-'}")
    for field, have_value, want in (
        ("home", current.home, score.home),
        ("shell", current.shell, score.shell),
        ("comment", current.comment, score.comment),
    ):
        if want is not None and have_value != want:
            notes.append(f"{field} {have_value!r} -> {want!r}")
    return [Change.update(target, "".join(n + "\n" for n in notes))] if notes else []


def _describe(score: User) -> str:
    parts = [
        f"{k}={v}"
        for k, v in (
            ("uid", score.uid),
            ("group", score.primary_group),
            ("groups", ",".join(score.groups) if score.groups is not None else None),
            ("home", score.home),
            ("shell", score.shell),
        )
        if v is not None
    ]
    return (" ".join(parts) + "\n") if parts else ""
