"""``PostgreSQLFailover[T]``: the ``PostgreSQL`` capability of a primary/replica pair of any ``T`` providing it.

Deploying sets up the primary (waiting for the replica to confirm every commit: CP), clones the replica
from it with ``pg_basebackup`` and streams to it synchronously. Databases and roles are created on the
side that is primary *now* (after a failover that is the former replica) and reach the other side by
replication; settings are not replicated by PostgreSQL, so they are applied to both.
``PostgreSQLFailover(primary=a, replica=b)`` is a type error unless ``a`` and ``b`` provide ``PostgreSQL``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Protocol

from harmony.domain.capabilities.postgres import PostgreSQL, PostgreSQLState, ServerEndpoint
from harmony.domain.topology import Topology
from harmony.topology.failover import FailoverTopology


class PostgreSQLTopology(PostgreSQL, Topology, Protocol):
    """A topology that provides ``PostgreSQL``."""


class PostgreSQLFailover[T: PostgreSQLTopology](FailoverTopology[T]):
    @property
    def server_name(self) -> str:
        return self.name

    @property
    def endpoint(self) -> ServerEndpoint:
        return self.primary.endpoint

    async def _writer(self) -> T:
        """The side accepting writes now (the agents may have swapped them); the primary if neither does."""
        for side in (self.primary, self.replica):
            if (await side.postgres_state(())).server == "primary":
                return side
        return self.primary

    async def postgres_state(self, settings: Sequence[str]) -> PostgreSQLState:
        a, b = await asyncio.gather(self.primary.postgres_state(settings), self.replica.postgres_state(settings))
        roles = {a.server, b.server}
        if roles != {"primary", "standby"}:
            return PostgreSQLState(server="absent")
        writer = a if a.server == "primary" else b
        other = b if writer is a else a
        # A setting counts as applied only when both sides have it; otherwise show the side that lacks it.
        settings_now = {
            k: v if other.settings.get(k) == v else other.settings.get(k, "") for k, v in writer.settings.items()
        }
        return writer.model_copy(update={"settings": settings_now})

    async def deploy_server(self, *, replicate_from: ServerEndpoint | None, synchronous_standby: str | None) -> None:
        await self.primary.deploy_server(replicate_from=replicate_from, synchronous_standby=self.replica.server_name)
        await self.replica.deploy_server(replicate_from=self.primary.endpoint, synchronous_standby=None)

    async def create_database(self, name: str, *, owner: str) -> None:
        await (await self._writer()).create_database(name, owner=owner)

    async def create_role(self, name: str, *, login: bool) -> None:
        await (await self._writer()).create_role(name, login=login)

    async def apply_settings(self, settings: Mapping[str, str]) -> None:
        for side in (self.primary, self.replica):
            await side.apply_settings(settings)
