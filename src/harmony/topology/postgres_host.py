"""``PostgreSQLHost``: a PostgreSQL server on a Linux host, as a topology providing ``PostgreSQL``.

``PostgreSQLHost.on(host, name=..., port=...)`` makes a ``LinuxHost`` (local or over SSH) a database server:
its ``ensure_ready`` installs the PostgreSQL packages through the host's packages capability (or stops,
naming them, before anything is configured); every program, file and SQL statement then goes through the
host's connector. A plain ``LinuxHost`` does not provide ``PostgreSQL``: a database Score on it is a type
error. ``LocalPostgreSQL`` is the same server on this machine, with the binaries already installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.postgres import PostgreSQLState, ServerEndpoint
from harmony.domain.errors import TopologyError
from harmony.domain.inventory import HostResources
from harmony.domain.topology import RunLock
from harmony.domain.values import IPAddress, Port
from harmony.infra.postgres import PostgresInstance
from harmony.infra.programs import PG_BIN
from harmony.infra.run_lock import LocalRunLock, lock_file_for
from harmony.topology.linux_host import LinuxHost
from harmony.topology.prerequisites import require_packages

PACKAGES = ("postgresql-15",)
DATA_ROOT = PurePosixPath("/var/lib/postgresql/harmony")


class PostgreSQLHost:
    """The server ``instance``; ``host``, when given, is the machine it runs on (its packages are ensured)."""

    def __init__(self, *, instance: PostgresInstance, host: LinuxHost | None = None) -> None:
        self.instance = instance
        self.host = host

    @property
    def resources(self) -> HostResources | None:
        """The CPUs and memory of the machine it runs on, when the inventory says them."""
        return None if self.host is None else self.host.resources

    @classmethod
    def on(
        cls,
        host: LinuxHost,
        *,
        name: str,
        port: Port = Port(5432),  # noqa: B008 - an immutable int subclass, safe as a default
        listen_address: IPAddress | None = None,
        data_dir: PurePosixPath | None = None,
        trusted_networks: Sequence[str] = ("127.0.0.1/32",),
    ) -> PostgreSQLHost:
        """The server ``name`` on ``host``: data in ``/var/lib/postgresql/harmony/<name>/data`` unless
        ``data_dir`` is given, listening on ``listen_address`` (loopback by default) and its local socket;
        ``trusted_networks`` may connect without a password (standbys and clients)."""
        instance = PostgresInstance(
            name=name,
            data_dir=Path(data_dir or DATA_ROOT / name / "data"),
            port=int(port),
            listen_address=str(listen_address) if listen_address is not None else "127.0.0.1",
            trusted_networks=trusted_networks,
            connector=host.connector,
        )
        return cls(instance=instance, host=host)

    @property
    def name(self) -> str:
        where = f"@{self.host.name}" if self.host is not None else ""
        return f"postgresql:{self.instance.name}{where}"

    @property
    def server_name(self) -> str:
        return self.instance.name

    @property
    def endpoint(self) -> ServerEndpoint:
        return self.instance.endpoint

    async def ensure_ready(self) -> None:
        await self.connect()
        await self.prepare()

    async def connect(self) -> None:
        if self.host is not None:
            await self.host.ensure_ready()

    async def prepare(self) -> bool:
        """The server's packages on its host (installed when missing) and its binaries, read at once."""
        installed, found = await asyncio.gather(self._require_packages(), self._has_binaries(), return_exceptions=True)
        if isinstance(installed, BaseException):  # first: the missing package explains the missing binaries
            raise installed
        if isinstance(found, BaseException):
            raise found
        if installed:
            found = await self._has_binaries()
        if not found:
            raise TopologyError(self.name, f"no PostgreSQL server binaries in {self.instance.bin_dir}")
        return bool(installed)

    async def _require_packages(self) -> list[str]:
        if self.host is None:
            return []
        return await require_packages(self.host, PACKAGES, role="a PostgreSQL server", where=self.name)

    async def _has_binaries(self) -> bool:
        return await self.instance.exists(self.instance.bin_dir / "postgres")

    async def close(self) -> None:
        if self.host is not None:
            await self.host.close()

    def run_lock(self) -> RunLock:
        if self.host is not None:
            return self.host.run_lock()  # one run at a time on that host
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


class LocalPostgreSQL(PostgreSQLHost):
    """A server in ``data_dir`` on this machine on ``listen_address:port``, run as ``run_as`` (``postgres``)."""

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
        super().__init__(
            instance=PostgresInstance(
                name=name,
                data_dir=data_dir,
                port=int(port),
                listen_address=listen_address,
                bin_dir=bin_dir,
                run_as=run_as,
                trusted_networks=trusted_networks,
                netns=netns,
            )
        )
