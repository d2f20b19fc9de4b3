"""``UsersAndGroups``: local accounts on a host.

Contract: ``accounts`` reads every user and group in one round trip and changes nothing. ``ensure_user``
creates the user or changes the given attributes of an existing one (``None``: leave as is); secondary
``groups`` are the exact set when given. Removing a missing account is not an error. Failures raise
``UsersError`` naming the account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class UserAccount(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    uid: int
    gid: int
    home: str
    shell: str
    comment: str = ""


class GroupAccount(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    gid: int
    members: tuple[str, ...] = ()


class Accounts(BaseModel):
    """Every user and group of a host, by name."""

    model_config = ConfigDict(frozen=True)

    users: Mapping[str, UserAccount]
    groups: Mapping[str, GroupAccount]

    def groups_of(self, user: str) -> frozenset[str]:
        """The secondary groups ``user`` is a member of."""
        return frozenset(g.name for g in self.groups.values() if user in g.members)


class UsersAndGroups(Protocol):
    async def accounts(self) -> Accounts:
        """Every user and group, read in one round trip."""
        ...

    async def ensure_user(
        self,
        name: str,
        *,
        uid: int | None,
        primary_group: str | None,
        groups: Sequence[str] | None,
        home: str | None,
        shell: str | None,
        comment: str | None,
        system: bool,
    ) -> None:
        """Create ``name`` or change the given attributes of the existing user."""
        ...

    async def remove_user(self, name: str) -> None: ...

    async def ensure_group(self, name: str, *, gid: int | None, system: bool) -> None: ...

    async def remove_group(self, name: str) -> None: ...
