"""``harmony fleet serve`` (the always-on controller and its dashboard) and ``harmony fleet dashboard-user``."""

from __future__ import annotations

import asyncio
import getpass
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harmony.cli import fleet_sites
from harmony.cli.errors import guarded
from harmony.cli.fleet import DEFAULT_HOME, Home, fleet, options
from harmony.dashboard.app import Dashboard, create_app
from harmony.dashboard.failover import FailoverSource
from harmony.dashboard.security import AuditLog, Sessions
from harmony.dashboard.server import serve_dashboard
from harmony.dashboard.users import ROLES, Role, UserStore
from harmony.domain.capabilities.key_value import KeyValueStore
from harmony.domain.errors import InvalidValueError
from harmony.fleet.controller import Controller, ControllerSettings
from harmony.fleet.credentials import FleetHome, Identity
from harmony.fleet.exporter import export_controller
from harmony.fleet.metrics import RolloutMetrics
from harmony.infra.nats import NatsKeyValue, NatsOptions
from harmony.maestro.journal import default_journal_path

console = Console()
assert fleet_sites.sites is not None  # imported for its registration of `fleet sites` on `fleet`
users_app = typer.Typer(name="dashboard-user", help="Dashboard users: add, remove, list.", no_args_is_help=True)
fleet.add_typer(users_app)

Users = Annotated[
    Path | None, typer.Option("--users", help="The users file (default: <home>/dashboard-users.json, mode 0600).")
]


def _users(home: Path, users: Path | None) -> UserStore:
    return UserStore(users or home / "dashboard-users.json")


def _listen(value: str, *, option: str = "--listen") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidValueError(option, value, "HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


@fleet.command()
@guarded
def serve(
    name: Annotated[str, typer.Option("--name", help="This controller's name, unique among the fleet's controllers.")],
    home: Home = DEFAULT_HOME,
    lease_timeout: Annotated[
        float, typer.Option(min=0.5, help="Seconds without a renewal before another controller takes over.")
    ] = 5.0,
    offline_after: Annotated[float, typer.Option(min=0.1, help="Seconds without a heartbeat: offline.")] = 15.0,
    listen: Annotated[str | None, typer.Option(help="HOST:PORT of the web dashboard (default: no dashboard).")] = None,
    users: Users = None,
    audit: Annotated[Path | None, typer.Option(help="Audit log (default: <home>/dashboard-audit.log).")] = None,
    journal: Annotated[Path | None, typer.Option(help="Run journal shown (default: the user's journal).")] = None,
    failover_bucket: Annotated[
        str, typer.Option(help="The failover agents' bucket on this NATS (empty: no failover page).")
    ] = "harmony_failover",
    metrics: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT to serve /metrics on: rollout progress, halted rollouts, this controller's "
            "state (default: no metrics listener)."
        ),
    ] = None,
    tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM) for the dashboard.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM) for the dashboard.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Drive rollouts with nobody attached, and serve the dashboard; several may run, one is active (a lease)."""
    identity = FleetHome(home).control()
    address = _listen(listen) if listen else None
    metrics_address = _listen(metrics, option="--metrics") if metrics else None
    if (tls_cert is None) != (tls_key is None):
        raise InvalidValueError("--tls-cert/--tls-key", str(tls_cert or tls_key), "both, or neither")
    tls = (tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
    url = f"{'https' if tls else 'http'}://{address[0]}:{address[1]}" if address else ""
    controller = Controller(
        name, ControllerSettings(lease_timeout=lease_timeout, offline_after=offline_after, dashboard=url)
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("nats").setLevel(logging.CRITICAL)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        web = None
        if address is not None:
            user_store = _users(home, users)
            dashboard = Dashboard(
                controller=controller, users=user_store, audit=AuditLog(audit or home / "dashboard-audit.log"),
                sessions=_sessions(home, user_store),
                journal_path=journal or default_journal_path(), secure=tls is not None,
                failover=_failover(controller, identity, failover_bucket) if failover_bucket else None,
            )  # fmt: skip
            app = create_app(dashboard)
            web = asyncio.create_task(serve_dashboard(app, host=address[0], port=address[1], stop=stop, tls=tls))
            logging.getLogger("harmony.dashboard").info("dashboard on %s", url)
        rollout_metrics = RolloutMetrics()
        exporter = None
        if metrics_address is not None:
            port = rollout_metrics.endpoint.start(port=metrics_address[1], host=metrics_address[0])
            exporter = asyncio.create_task(export_controller(controller, rollout_metrics, interval=1.0, stop=stop))
            logging.getLogger("harmony.fleet").info("metrics on http://%s:%d/metrics", metrics_address[0], port)
        try:
            await controller.run(options(identity), stop)
        finally:
            stop.set()
            if web is not None:
                await web
            if exporter is not None:
                await exporter
                rollout_metrics.endpoint.stop()

    asyncio.run(go())


def _sessions(home: Path, users: UserStore) -> Sessions:
    """Logins kept across restarts, each still standing only while its user exists with the same role."""
    current = {u.name: u.role for u in users.load().users}
    return Sessions(home / "dashboard-sessions.json", valid=lambda user, role: current.get(user) == role)


def _failover(controller: Controller, identity: Identity, bucket: str) -> FailoverSource:
    async def open_store() -> KeyValueStore:
        nats = NatsOptions(
            servers=identity.servers, user=identity.user, password=identity.password, timeout=2.0,
            name=f"{identity.user}-failover-view",
        )  # fmt: skip
        return await NatsKeyValue.connect(nats, bucket=bucket)

    return FailoverSource(
        bucket, bus=lambda: controller.control.bus if controller.control else None, open_store=open_store
    )


@users_app.command("add")
@guarded
def add_user(
    user: str,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "viewer",
    home: Home = DEFAULT_HOME,
    users: Users = None,
) -> None:
    """Add a user (or replace its role and password); the password is read from stdin."""
    if role not in ROLES:
        raise InvalidValueError("--role", role, f"one of: {', '.join(ROLES)}")
    chosen: Role = "operator" if role == "operator" else "viewer"
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    store = _users(home, users)
    store.add(user, chosen, password)
    console.print(f"{user} ({chosen}) written to {store.path}")


@users_app.command("remove")
@guarded
def remove_user(user: str, home: Home = DEFAULT_HOME, users: Users = None) -> None:
    """Remove a user (open sessions end at their expiry or the next restart)."""
    _users(home, users).remove(user)
    console.print(f"{user} removed")


@users_app.command("list")
@guarded
def list_users(home: Home = DEFAULT_HOME, users: Users = None) -> None:
    """Users and roles (never the hashes)."""
    table = Table()
    table.add_column("user")
    table.add_column("role")
    for u in _users(home, users).load().users:
        table.add_row(u.name, u.role)
    console.print(table)
