"""``PostgreSQL``: a PostgreSQL server (or a replicated set of them) with databases, roles and settings.

Contract:
- ``postgres_state`` only reads. A server that was never set up reports ``server="absent"``.
- ``deploy_server`` is idempotent: it sets up and starts a server that is absent or stopped and leaves a
  running one alone. With ``replicate_from`` it clones that server (``pg_basebackup``) and streams from it
  as a hot standby named ``name``; with ``synchronous_standby`` the server waits for that standby to
  confirm every commit (CP: when the standby is gone, commits wait).
- ``create_database``, ``create_role`` and ``apply_settings`` act on the writable server; settings are
  written with ``ALTER SYSTEM`` and reloaded (settings that need a restart are reported by
  ``postgres_state`` as ``pending_restart``).
- Failures raise ``PostgreSQLError`` naming the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from harmony.domain.values import Port

type ServerRole = Literal["absent", "stopped", "primary", "standby"]


class ServerEndpoint(BaseModel):
    """Where clients and standbys reach a server (TCP)."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: Port
    user: str = "postgres"

    def conninfo(self, *, application_name: str | None = None) -> str:
        extra = f" application_name={application_name}" if application_name else ""
        return f"host={self.host} port={int(self.port)} user={self.user} dbname=postgres{extra}"


class RoleState(BaseModel):
    model_config = ConfigDict(frozen=True)

    login: bool


class PostgreSQLState(BaseModel):
    """What a server (or a replicated set) looks like now."""

    model_config = ConfigDict(frozen=True)

    server: ServerRole
    databases: Mapping[str, str] = Field(default_factory=dict[str, str], description="database name -> owner")
    roles: Mapping[str, RoleState] = Field(default_factory=dict[str, RoleState])
    settings: Mapping[str, str] = Field(default_factory=dict[str, str], description="name -> current value")
    pending_restart: tuple[str, ...] = ()
    sync_standbys: tuple[str, ...] = Field(default=(), description="standbys confirming every commit now")


class PostgreSQL(Protocol):
    @property
    def server_name(self) -> str:
        """The server's name among its peers (its ``application_name`` when it streams as a standby)."""
        ...

    @property
    def endpoint(self) -> ServerEndpoint: ...

    async def postgres_state(self, settings: Sequence[str]) -> PostgreSQLState:
        """The server's role, databases, roles and the current values of ``settings``."""
        ...

    async def deploy_server(self, *, replicate_from: ServerEndpoint | None, synchronous_standby: str | None) -> None:
        """Set up and start the server if it is absent or stopped (see the module docstring)."""
        ...

    async def create_database(self, name: str, *, owner: str) -> None: ...

    async def create_role(self, name: str, *, login: bool) -> None:
        """Create the role, or set its ``LOGIN`` attribute if it exists."""
        ...

    async def apply_settings(self, settings: Mapping[str, str]) -> None:
        """``ALTER SYSTEM SET`` each setting, then reload the configuration."""
        ...
