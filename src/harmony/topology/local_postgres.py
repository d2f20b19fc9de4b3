"""``LocalPostgreSQL``: one PostgreSQL server on this machine, as a topology providing ``PostgreSQL``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from harmony.domain.capabilities.postgres import PostgreSQLState, ServerEndpoint
from harmony.domain.errors import TopologyError
from harmony.domain.topology import RunLock
from harmony.domain.values import Port
from harmony.infra.postgres import PostgresInstance
from harmony.infra.programs import PG_BIN
from harmony.infra.run_lock import LocalRunLock, lock_file_for


class LocalPostgreSQL:
    """A server in ``data_dir`` on ``listen_address:port``, run as ``run_as`` (``postgres``)."""

    def __init__(
        self,
        *,
        name: str,
        data_dir: Path,
        port: Port,
        listen_address: str = "127.0.0.1",
        bin_dir: Path = PG_BIN,
        run_as: str = "postgres",
        trusted_networks: Sequence[str] = ("127.0.0.1/32",),
        netns: str | None = None,
    ) -> None:
        """``trusted_networks`` may connect without a password (loopback only by default); ``netns`` runs
        the server inside that network namespace."""
        self.instance = PostgresInstance(
            name=name,
            data_dir=data_dir,
            port=int(port),
            listen_address=listen_address,
            bin_dir=bin_dir,
            run_as=run_as,
            trusted_networks=trusted_networks,
            netns=netns,
        )

    @property
    def name(self) -> str:
        return f"postgresql:{self.instance.name}"

    @property
    def server_name(self) -> str:
        return self.instance.name

    @property
    def endpoint(self) -> ServerEndpoint:
        return self.instance.endpoint

    async def ensure_ready(self) -> None:
        if not (self.instance.bin_dir / "postgres").exists():
            raise TopologyError(self.name, f"no PostgreSQL server binaries in {self.instance.bin_dir}")

    async def close(self) -> None:
        return None

    def run_lock(self) -> RunLock:
        # not inside the data directory: PostgreSQL and pg_basebackup own everything in it
        return LocalRunLock(lock_file_for(self.instance.data_dir), topology=self.name)

    async def postgres_state(self, settings: Sequence[str]) -> PostgreSQLState:
        return await self.instance.state(settings)

    async def deploy_server(self, *, replicate_from: ServerEndpoint | None, synchronous_standby: str | None) -> None:
        role = await self.instance.role()
        if role == "absent":
            if replicate_from is None:
                await self.instance.initialize(synchronous_standby=synchronous_standby)
            else:
                await self.instance.clone_from(replicate_from)
            role = "stopped"
        if role == "stopped":
            await self.instance.start_detached()

    async def create_database(self, name: str, *, owner: str) -> None:
        await self.instance.create_database(name, owner=owner)

    async def create_role(self, name: str, *, login: bool) -> None:
        await self.instance.create_role(name, login=login)

    async def apply_settings(self, settings: Mapping[str, str]) -> None:
        await self.instance.apply_settings(settings)
