"""Dashboard users: names, roles and argon2id password hashes in one 0600 JSON file.

Managed by ``harmony fleet dashboard-user add|remove|list``; the dashboard rereads the file at each login, so
a change takes effect without a restart (sessions already open keep the role they logged in with).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import argon2
from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.errors import InvalidValueError
from harmony.infra.state_files import write_atomic

type Role = Literal["viewer", "operator"]
ROLES: tuple[Role, ...] = ("viewer", "operator")
MIN_PASSWORD = 10

_hasher = argon2.PasswordHasher()
_DUMMY = _hasher.hash("a password nobody has, verified for unknown users so timing tells nothing")


class User(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    role: Role
    hash: str


class UserFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[User] = Field(default_factory=list[User])


class UserStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> UserFile:
        if not self.path.exists():
            return UserFile()
        return UserFile.model_validate_json(self.path.read_text())

    def add(self, name: str, role: Role, password: str) -> User:
        """Add ``name`` or replace its role and password."""
        if len(password) < MIN_PASSWORD:
            raise InvalidValueError("password", "(hidden)", f"at least {MIN_PASSWORD} characters")
        user = User(name=name, role=role, hash=_hasher.hash(password))
        data = self.load()
        data.users = [u for u in data.users if u.name != name] + [user]
        self._save(data)
        return user

    def remove(self, name: str) -> None:
        data = self.load()
        if not any(u.name == name for u in data.users):
            known = ", ".join(u.name for u in data.users) or "none"
            raise InvalidValueError("user", name, f"an existing dashboard user (known: {known})")
        data.users = [u for u in data.users if u.name != name]
        self._save(data)

    def verify(self, name: str, password: str) -> User | None:
        """The user if the password is theirs; ``None`` otherwise (same work for an unknown name)."""
        user = next((u for u in self.load().users if u.name == name), None)
        try:
            _hasher.verify(user.hash if user is not None else _DUMMY, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return None
        return user

    def _save(self, data: UserFile) -> None:
        write_atomic(self.path, json.dumps(data.model_dump(mode="json"), indent=2), mode=0o600, directory_mode=0o700)
