"""``PostgreSQLServer``: a running server (or replicated pair) with the given databases, roles and settings.

Only adds: databases and roles not listed are left alone, and a database whose owner differs is reported,
not changed (changing owners is a migration, not configuration).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harmony.domain.capabilities.postgres import PostgreSQL, PostgreSQLState
from harmony.domain.change import Action, Change
from harmony.domain.claims import Claim, ResourceClaim
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score

_NAME = r"^[a-z_][a-z0-9_]{0,62}$"


class Role(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    login: bool = True


class Database(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    owner: str = Field(default="postgres", pattern=_NAME)


class PostgreSQLServer(Score[PostgreSQL]):
    kind: Literal["postgresql_server"] = "postgresql_server"
    roles: tuple[Role, ...] = ()
    databases: tuple[Database, ...] = ()
    settings: Mapping[str, str] = Field(default_factory=dict[str, str], description="ALTER SYSTEM settings")

    @model_validator(mode="after")
    def _each_once(self) -> Self:
        for what, names in (("roles", [r.name for r in self.roles]), ("databases", [d.name for d in self.databases])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise InvalidValueError(what, twice, f"each name once in {what} (one declaration per object)")
        return self

    @property
    def name(self) -> str:
        return "postgresql"

    def claims(self) -> Sequence[Claim]:
        """The memory the server reserves at start: ``shared_buffers`` (PostgreSQL's default, 128MB, if unset)."""
        buffers = shared_buffers_bytes(self.settings.get("shared_buffers", "128MB"))
        return () if buffers is None else (ResourceClaim("shared_buffers", "settings.shared_buffers", memory=buffers),)

    def interpret(self) -> Interpret[PostgreSQL]:
        return PostgreSQLServerInterpret(self)


_PG_SIZE = re.compile(r"^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$")
_PG_UNITS = {"kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, None: 8192}


def shared_buffers_bytes(value: str) -> int | None:
    """``shared_buffers`` in bytes, read as PostgreSQL reads it (no unit: 8 kB pages); ``None`` if it is not a
    size PostgreSQL takes (the server refuses it at apply, which names the setting)."""
    m = _PG_SIZE.match(value)
    return None if m is None else int(m.group(1)) * _PG_UNITS[m.group(2)]


class PostgreSQLServerInterpret(Interpret[PostgreSQL]):
    def __init__(self, score: PostgreSQLServer) -> None:
        self.score = score

    async def plan(self, topology: PostgreSQL) -> Sequence[Change]:
        return plan_postgres(self.score, await topology.postgres_state(tuple(self.score.settings)))

    async def apply(self, topology: PostgreSQL, changes: Sequence[Change]) -> Outcome:
        s = self.score
        if any(c.target == "server" for c in changes):
            await topology.deploy_server(replicate_from=None, synchronous_standby=None)
        state = await topology.postgres_state(tuple(s.settings))
        for role in s.roles:
            if state.roles.get(role.name) is None or state.roles[role.name].login != role.login:
                await topology.create_role(role.name, login=role.login)
        for db in s.databases:
            if db.name not in state.databases:
                await topology.create_database(db.name, owner=db.owner)
        wanted = {k: v for k, v in s.settings.items() if not same_setting(state.settings.get(k), v)}
        if wanted:
            await topology.apply_settings(wanted)
        return Outcome.success("postgresql in place", *(c.target for c in changes))


def plan_postgres(score: PostgreSQLServer, state: PostgreSQLState) -> list[Change]:
    """The changes from ``state`` to ``score``: a pure diff, tested as a table."""
    if state.server in ("absent", "stopped"):
        return [
            Change.create("server", f"set up and start ({state.server} now)\n"),
            *(Change.create(f"role {r.name}") for r in score.roles),
            *(Change.create(f"database {d.name}", f"owner {d.owner}\n") for d in score.databases),
            *(Change.update(f"setting {k}", f"-> {v}\n") for k, v in score.settings.items()),
        ]
    changes: list[Change] = []
    for r in score.roles:
        current = state.roles.get(r.name)
        if current is None:
            changes.append(Change.create(f"role {r.name}", f"login {r.login}\n"))
        elif current.login != r.login:
            changes.append(Change.update(f"role {r.name}", f"login {current.login} -> {r.login}\n"))
    for d in score.databases:
        owner = state.databases.get(d.name)
        if owner is None:
            changes.append(Change.create(f"database {d.name}", f"owner {d.owner}\n"))
        elif owner != d.owner:
            changes.append(
                Change(action=Action.NONE, target=f"database {d.name}", diff=f"owner is {owner}, not {d.owner}\n")
            )
    for key, value in score.settings.items():
        if not same_setting(state.settings.get(key), value):
            changes.append(Change.update(f"setting {key}", f"{state.settings.get(key)} -> {value}\n"))
    return changes


_UNITS = {"b": 1 / 1024, "kb": 1, "mb": 1024, "gb": 1024**2, "tb": 1024**3,
          "us": 1e-3, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}  # fmt: skip
_QUANTITY = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def same_setting(current: str | None, wanted: str) -> bool:
    """Whether PostgreSQL's current value (``SHOW`` form, e.g. ``8MB``) equals the wanted one (``8192kB``)."""
    if current is None:
        return False
    a, b = _QUANTITY.match(current.lower()), _QUANTITY.match(wanted.lower())
    if a and b and a.group(2) in _UNITS and b.group(2) in _UNITS:
        same_kind = a.group(2).endswith("b") == b.group(2).endswith("b")  # memory (kB, MB...) or time (ms, s...)
        return same_kind and float(a.group(1)) * _UNITS[a.group(2)] == float(b.group(1)) * _UNITS[b.group(2)]
    return current.strip().lower() == wanted.strip().lower()
