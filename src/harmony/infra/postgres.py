"""One PostgreSQL 15 server on a host: ``initdb``, ``pg_ctl``, ``pg_basebackup``, ``pg_rewind`` and SQL, run as
the ``postgres`` user with its directories owned by it.

Every program and file goes through the host's connector (this machine by default, or a host over SSH).
SQL goes over the server's local socket: with psycopg when the socket is on this machine, else with ``psql``
on the host through the connector (rows come back as JSON), so no database port has to be reachable from
where Harmony runs.

Harmony owns one include file in the data directory, ``harmony.conf`` (listen address, port, socket
directory, replication and the synchronous standby); user settings go through ``ALTER SYSTEM``.

A server on this machine can run *supervised*: as a child of the calling process that is killed with it
(``setpriv --pdeathsig KILL``). That is how an agent fences its server when the agent itself dies: a
primary must never outlive the process that decides whether it may still be primary. The child is
spawned from the event-loop thread on purpose: the parent-death signal follows the thread that forked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

import psycopg
from psycopg import sql

from harmony.domain.capabilities.postgres import PostgreSQLState, RoleState, ServerEndpoint, ServerRole
from harmony.domain.errors import CommandError, FilesError, PostgreSQLError
from harmony.domain.values import Port
from harmony.infra.connector import Connector
from harmony.infra.local_connector import LocalConnector
from harmony.infra.programs import (
    INITDB,
    IP,
    PG_BASEBACKUP,
    PG_BIN,
    PG_CTL,
    PG_REWIND,
    POSTGRES,
    PSQL,
    SETPRIV,
    SH,
    Program,
)

_CONF = "harmony.conf"


_SYNC_STANDBYS = "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'"


class PostgresInstance:
    """A PostgreSQL server in ``data_dir`` listening on ``listen_address:port`` and in ``socket_dir``, on the
    host behind ``connector`` (this machine when none is given); the paths are that host's."""

    def __init__(
        self,
        *,
        name: str,
        data_dir: Path,
        port: int,
        listen_address: str = "127.0.0.1",
        socket_dir: Path | None = None,
        bin_dir: Path = PG_BIN,
        run_as: str = "postgres",
        query_timeout: float = 5.0,
        trusted_networks: Sequence[str] = ("127.0.0.1/32",),
        netns: str | None = None,
        connector: Connector | None = None,
    ) -> None:
        self.connector: Connector = connector or LocalConnector(name="localhost")
        self._here = isinstance(self.connector, LocalConnector)
        self.name = name
        self.data_dir = data_dir
        self.port = port
        self.listen_address = listen_address
        self.socket_dir = socket_dir or data_dir.parent / f"{data_dir.name}.sock"
        self.bin_dir = bin_dir
        self.run_as = run_as
        self.query_timeout = query_timeout
        self.trusted_networks = tuple(trusted_networks)
        self.netns = netns
        self.log_file = data_dir.parent / f"{data_dir.name}.log"
        self.child: asyncio.subprocess.Process | None = None

    @property
    def endpoint(self) -> ServerEndpoint:
        return ServerEndpoint(host=self.listen_address, port=Port(self.port))

    # -- state -----------------------------------------------------------------------------------------

    async def initialized(self) -> bool:
        return await self.exists(self.data_dir / "PG_VERSION")

    async def exists(self, path: Path) -> bool:
        """Whether ``path`` exists on the server's host."""
        where = PurePosixPath(path)
        return (await self.connector.stat_files([where], with_content=False))[where].kind != "missing"

    async def role(self) -> ServerRole:
        """``absent`` (no data directory), ``stopped``, ``primary`` or ``standby``."""
        initialized, rows = await asyncio.gather(
            self.initialized(), self.query("SELECT pg_is_in_recovery()", reads_only=True), return_exceptions=True
        )  # at once: one round trip to a remote host
        if isinstance(initialized, BaseException):
            raise initialized
        if not initialized:
            return "absent"
        if isinstance(rows, PostgreSQLError):
            return "stopped"
        if isinstance(rows, BaseException):
            raise rows
        return "standby" if rows[0][0] else "primary"

    async def sync_standbys(self) -> tuple[str, ...]:
        rows = await self.query(_SYNC_STANDBYS, reads_only=True)
        return tuple(str(r[0]) for r in rows)

    async def streaming_standbys(self) -> tuple[str, ...]:
        rows = await self.query("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
        return tuple(str(r[0]) for r in rows)

    async def receiving(self) -> bool:
        """True when this standby streams WAL from a primary right now."""
        rows = await self.query("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")
        return bool(rows[0][0])

    async def health(self, *, timeout: float) -> tuple[bool, bool, tuple[str, ...], tuple[str, ...]]:
        """One round trip: (in recovery, receiving WAL, streaming standbys, synchronous standbys)."""
        rows = await self.query(
            "SELECT pg_is_in_recovery(),"
            " (SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming') > 0,"
            " coalesce((SELECT array_agg(application_name) FROM pg_stat_replication WHERE state = 'streaming'), '{}'),"
            " coalesce((SELECT array_agg(application_name) FROM pg_stat_replication"
            "  WHERE state = 'streaming' AND sync_state = 'sync'), '{}')",
            timeout=timeout,
        )
        recovery, receiving, streaming, sync = rows[0]
        return bool(recovery), bool(receiving), _names(streaming), _names(sync)

    async def standby_configured(self) -> bool:
        return await self.exists(self.data_dir / "standby.signal")

    async def state(self, settings: Sequence[str]) -> PostgreSQLState:
        # Every query at once, with the role's own reads (one round trip to a remote host); their failures
        # only count when the server is running.
        role, *answers = await asyncio.gather(
            self.role(),
            self.query(
                "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                "WHERE NOT d.datistemplate",
                reads_only=True,
            ),
            self.query("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname !~ '^pg_'", reads_only=True),
            self.query(
                "SELECT name, current_setting(name), unit, pending_restart FROM pg_settings WHERE name = ANY(%s)",
                (list(settings),),
                reads_only=True,
            ),
            self.query(_SYNC_STANDBYS, reads_only=True),
            return_exceptions=True,
        )
        if isinstance(role, BaseException):
            raise role
        if role in ("absent", "stopped"):
            return PostgreSQLState(server=role)
        rows: list[list[tuple[object, ...]]] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            rows.append(answer)
        dbs, roles, values, sync = rows
        return PostgreSQLState(
            server=role,
            databases={str(n): str(o) for n, o in dbs},
            roles={str(n): RoleState(login=bool(login)) for n, login in roles},
            settings={str(n): str(v) for n, v, _, _ in values},
            pending_restart=tuple(str(n) for n, _, _, pending in values if pending),
            sync_standbys=tuple(str(r[0]) for r in sync) if role == "primary" else (),
        )

    # -- SQL -------------------------------------------------------------------------------------------

    async def query(
        self,
        statement: str | sql.Composed,
        params: Sequence[object] = (),
        *,
        timeout: float | None = None,
        reads_only: bool = False,
    ) -> list[tuple[object, ...]]:
        """Run one statement on the local socket (autocommit) and return its rows; ``reads_only`` (it changes
        nothing): on a remote host, with the connector's other reads of this tick."""
        try:
            return await asyncio.wait_for(self._query(statement, params, reads_only), timeout or self.query_timeout)
        except TimeoutError as e:
            raise PostgreSQLError(self.name, f"no answer within {timeout or self.query_timeout}s") from e
        except psycopg.Error as e:
            raise PostgreSQLError(self.name, str(e).strip() or type(e).__name__) from e
        except OSError as e:
            raise PostgreSQLError(self.name, str(e)) from e

    async def _query(
        self, statement: str | sql.Composed, params: Sequence[object], reads_only: bool
    ) -> list[tuple[object, ...]]:
        if not self._here:
            return await self._psql(statement, params, reads_only)
        async with await psycopg.AsyncConnection.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            # No parameters: pass None, so that a literal '%' (e.g. in a setting's value) is not a placeholder.
            cur = await conn.execute(statement, params or None)  # pyright: ignore[reportArgumentType]  # stubs omit None
            return list(await cur.fetchall()) if cur.description else []

    async def _psql(
        self, statement: str | sql.Composed, params: Sequence[object], reads_only: bool
    ) -> list[tuple[object, ...]]:
        """The statement through ``psql`` on the host; a query's rows come back as one JSON array."""
        text = _render(statement, params)
        rows_wanted = text.lstrip().upper().startswith("SELECT")
        if rows_wanted:
            text = f"SELECT coalesce(json_agg(row_to_json(q)), '[]') FROM ({text}) q"
        argv = [*self._as_owner(), self._bin(PSQL), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        argv += ["-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", text]
        try:
            run = self.connector.read_command if reads_only else self.connector.run_command
            result = await run(argv, timeout=self.query_timeout + 5)
        except CommandError as e:
            raise PostgreSQLError(self.name, f"psql: {e}") from e
        if not result.ok:
            raise PostgreSQLError(self.name, result.stderr.strip() or f"psql exited {result.exit_status}")
        if not rows_wanted:
            return []
        decoded: list[list[object]] = json.loads(result.stdout, object_pairs_hook=lambda pairs: [v for _, v in pairs])
        return [tuple(row) for row in decoded]

    async def create_database(self, name: str, *, owner: str) -> None:
        await self.query(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))

    async def create_role(self, name: str, *, login: bool) -> None:
        exists = await self.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        verb = "ALTER" if exists else "CREATE"
        attr = "LOGIN" if login else "NOLOGIN"
        await self.query(sql.SQL(f"{verb} ROLE {{}} {attr}").format(sql.Identifier(name)))

    async def apply_settings(self, settings: Mapping[str, str]) -> None:
        for key, value in settings.items():
            await self.query(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(key), sql.Literal(value)))
        await self.query("SELECT pg_reload_conf()")

    # -- set-up ----------------------------------------------------------------------------------------

    async def initialize(self, *, synchronous_standby: str | None) -> None:
        """``initdb`` a new data directory and write ``harmony.conf``."""
        await self._prepare_dirs()
        # UTF-8 whatever the login environment says (an SSH session often has no locale: SQL_ASCII).
        argv = ["-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"]
        await self._run(self._bin(INITDB), *argv)
        conf = await self._read(self.data_dir / "postgresql.conf")
        await self._write_owned(self.data_dir / "postgresql.conf", conf + f"\ninclude_if_exists = '{_CONF}'\n")
        await self.write_hba(network=True)
        await self.write_conf(synchronous_standby=synchronous_standby, primary=None)

    async def clone_from(self, source: ServerEndpoint) -> None:
        """Replace the data directory by a ``pg_basebackup`` of ``source`` and make it its standby."""
        await self._prepare_dirs()
        await self._host("rm", "-rf", "--", str(self.data_dir))
        await self._run(
            self._bin(PG_BASEBACKUP),
            "-d",
            source.conninfo(),
            "-D",
            str(self.data_dir),
            "-X",
            "stream",
            "-c",
            "fast",
        )
        await self.write_conf(synchronous_standby=None, primary=source)

    async def rewind_from(self, source: ServerEndpoint) -> None:
        """``pg_rewind`` this (stopped) server onto ``source``'s timeline and make it its standby."""
        await self._run(
            self._bin(PG_REWIND),
            "-D",
            str(self.data_dir),
            "--source-server",
            source.conninfo(),
        )
        await self.write_conf(synchronous_standby=None, primary=source)

    async def write_hba(self, *, network: bool) -> None:
        """Client authentication. Open: local socket and ``trusted_networks``. Closed: only the ``postgres``
        superuser on the local socket (the agent) and standbys' replication connections.

        The agent closes a primary to fence it while keeping it running (so recovery is instant), and
        starts a primary closed *before* it has confirmed, by compare-and-set, that it may serve.
        """
        hba = ["local all all trust" if network else "local all postgres trust", "local replication all trust"]
        for net in self.trusted_networks:
            hba += [f"host all all {net} trust"] if network else []
            hba += [f"host replication all {net} trust"]
        await self._write_owned(self.data_dir / "pg_hba.conf", "\n".join(hba) + "\n")

    async def open_to_network(self) -> None:
        await self.write_hba(network=True)
        await self.query("SELECT pg_reload_conf()")

    async def close_to_clients(self, *, timeout: float) -> None:
        """Reject new client connections and end every client session (standbys keep streaming)."""
        await self.write_hba(network=False)
        await self.query(
            "SELECT pg_reload_conf(), count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            timeout=timeout,
        )

    async def write_conf(self, *, synchronous_standby: str | None, primary: ServerEndpoint | None) -> None:
        """Write ``harmony.conf``; with ``primary``, also ``standby.signal`` (a server starts as its standby)."""
        lines = {
            "listen_addresses": self.listen_address,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "wal_level": "replica",
            "max_wal_senders": "10",
            "wal_log_hints": "on",
            "hot_standby": "on",
            "synchronous_commit": "on",
            "synchronous_standby_names": f'"{synchronous_standby}"' if synchronous_standby else "",
            "primary_conninfo": primary.conninfo(application_name=self.name) if primary else "",
            "recovery_target_timeline": "latest",
            "wal_receiver_status_interval": "1s",
            "wal_keep_size": "256MB",
            "wal_retrieve_retry_interval": "250ms",  # a standby that started first finds its primary quickly
        }
        text = "".join(f"{k} = '{v.replace("'", "''")}'\n" for k, v in lines.items())
        await self._write_owned(self.data_dir / _CONF, text)
        signal_file = self.data_dir / "standby.signal"
        if primary is not None:
            await self._write_owned(signal_file, "")
        else:
            await self.connector.remove_path(PurePosixPath(signal_file))

    async def set_synchronous_standby(self, name: str | None) -> None:
        """Change which standby must confirm commits (``None``: none) and reload."""
        conf = (await self._read(self.data_dir / _CONF)).splitlines()
        value = f'"{name}"' if name else ""
        conf = [
            f"synchronous_standby_names = '{value}'" if c.startswith("synchronous_standby_names") else c for c in conf
        ]
        await self._write_owned(self.data_dir / _CONF, "\n".join(conf) + "\n")
        await self.query("SELECT pg_reload_conf()")

    # -- running ---------------------------------------------------------------------------------------

    async def start_detached(self) -> None:
        """Start in the background with ``pg_ctl`` (the server outlives this process)."""
        await self._run(self._bin(PG_CTL), "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "start")

    async def start_supervised(self, *, network: bool = True, ready_timeout: float = 30.0) -> None:
        """Start as a child that dies with this process, and wait until it accepts connections (on its
        local socket only, unless ``network``)."""
        if self.child is not None and self.child.returncode is None:
            return
        if not self._here:
            raise PostgreSQLError(
                self.name, "a supervised server runs on this machine only (run the agent on its host)"
            )
        await self._prepare_dirs()
        await self.write_hba(network=network)
        log = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            self.child = await asyncio.create_subprocess_exec(
                *self._as_owner(pdeathsig=True),
                self._bin(POSTGRES),
                "-D",
                str(self.data_dir),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        except OSError as e:
            raise PostgreSQLError(self.name, f"cannot start postgres: {e}") from e
        finally:
            os.close(log)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        while loop.time() < deadline:
            if self.child.returncode is not None:
                raise PostgreSQLError(self.name, f"postgres exited {self.child.returncode}; see {self.log_file}")
            if await self.role() in ("primary", "standby"):
                return
            await asyncio.sleep(0.05)
        raise PostgreSQLError(self.name, f"not accepting connections after {ready_timeout}s; see {self.log_file}")

    async def stop(self, *, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clean) or ``immediate`` (no checkpoint: the quickest fence)."""
        if self.child is not None and self.child.returncode is None:
            self.child.send_signal(signal.SIGINT if mode == "fast" else signal.SIGQUIT)
            try:
                await asyncio.wait_for(self.child.wait(), 30)
            except TimeoutError:
                self.child.kill()
                await self.child.wait()
            return
        if await self.exists(self.data_dir / "postmaster.pid"):
            await self._run(self._bin(PG_CTL), "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    async def promote(self) -> None:
        await self._run(self._bin(PG_CTL), "-D", str(self.data_dir), "-w", "promote")

    # -- helpers ---------------------------------------------------------------------------------------

    async def _prepare_dirs(self) -> None:
        dirs = [str(self.data_dir.parent), str(self.socket_dir)]
        await self._host("mkdir", "-p", "--", *dirs)
        if self._as_root():
            await self._host("chown", f"{self.run_as}:{self.run_as}", "--", *dirs)

    async def _read(self, path: Path) -> str:
        where = PurePosixPath(path)
        found = (await self.connector.stat_files([where], with_content=True))[where]
        if found.content is None:
            raise PostgreSQLError(self.name, f"cannot read {path}: it is {found.kind}")
        return found.content.decode(errors="replace")

    async def _write_owned(self, path: Path, text: str) -> None:
        owner = self.run_as if self._as_root() else None
        try:
            await self.connector.write_file(PurePosixPath(path), text.encode(), mode=0o600, owner=owner, group=owner)
        except FilesError as e:
            raise PostgreSQLError(self.name, f"cannot write {path}: {e}") from e

    def _as_root(self) -> bool:
        """Commands on another host run as root (the connector's contract); here, as whoever runs Harmony."""
        return not self._here or os.geteuid() == 0

    def _bin(self, program: Program) -> str:
        """``program`` from this instance's ``bin_dir`` (``MissingProgramError`` naming its package if absent
        on this machine; on another host the server role has ensured its packages)."""
        return self._argv(program.at(self.bin_dir))[0]

    def _argv(self, program: Program, *args: str) -> list[str]:
        if self._here:
            return program.argv(*args)
        return [program.name if program.directory is None else str(program.directory / program.name), *args]

    def _as_owner(self, *, pdeathsig: bool = False) -> list[str]:
        netns = self._argv(IP, "netns", "exec", self.netns) if self.netns else []
        if not self._as_root():
            return netns
        prefix = [*netns, *self._argv(SETPRIV, "--reuid"), self.run_as, "--regid", self.run_as, "--init-groups"]
        return [*prefix, "--pdeathsig", "KILL", "--"] if pdeathsig else [*prefix, "--"]

    async def _host(self, *argv: str) -> None:
        """A housekeeping command as root on the host (directories, ownership)."""
        try:
            result = await self.connector.run_command(argv, timeout=60)
        except CommandError as e:
            raise PostgreSQLError(self.name, f"{argv[0]}: {e}") from e
        if not result.ok:
            raise PostgreSQLError(self.name, f"{' '.join(argv)} exited {result.exit_status}: {result.stderr.strip()}")

    async def _run(self, *argv: str, check: bool = True) -> str:
        """A PostgreSQL program as the server's owner, from ``/`` (its output: stdout then stderr)."""
        command = [*self._argv(SH, "-c", 'cd / && exec "$@" 2>&1', "sh"), *self._as_owner(), *argv]
        try:
            result = await self.connector.run_command(command, timeout=600)
        except CommandError as e:
            raise PostgreSQLError(self.name, f"cannot run {Path(argv[0]).name}: {e}") from e
        text = result.stdout + result.stderr
        if check and not result.ok:
            raise PostgreSQLError(self.name, f"{Path(argv[0]).name} exited {result.exit_status}: {text.strip()[-800:]}")
        return text


def _render(statement: str | sql.Composed, params: Sequence[object]) -> str:
    """The statement as text with its parameters inlined as literals (psql takes no bind parameters)."""
    text = statement.as_string(None) if isinstance(statement, sql.Composed) else statement
    if not params:
        return text
    parts = text.split("%s")
    if len(parts) != len(params) + 1:
        raise PostgreSQLError("psql", f"{len(params)} parameter(s) for {len(parts) - 1} placeholder(s) in {text!r}")
    literals = [sql.Literal(p).as_string(None) for p in params]
    return parts[0] + "".join(lit + part for lit, part in zip(literals, parts[1:], strict=True))


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]  # rows
    return ()
