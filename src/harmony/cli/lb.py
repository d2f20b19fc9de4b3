"""``harmony lb``: live backend states, and drain/activate a backend without a reload.

These are operations, not desired state: the next ``harmony apply`` of a ``LoadBalancing`` Score that
declares the backend ``active`` activates it again (and its plan says so).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli.errors import guarded
from harmony.cli.loading import load
from harmony.domain.capabilities.load_balancer import BackendStatus, LoadBalancer
from harmony.domain.errors import DeploymentError
from harmony.domain.names import ResourceName
from harmony.domain.topology import Topology

lb_app = typer.Typer(
    help="Load balancer operations: backend states; drain and activate backends without a reload.",
    no_args_is_help=True,
)
console = Console()

Deploy = Annotated[str, typer.Argument(help="Deployment: a .py file, a package directory, or a module name.")]
FrontendArg = Annotated[str, typer.Argument(help="Frontend name.")]
BackendArg = Annotated[str, typer.Argument(help="Backend name.")]


def _run[R](deploy: str, action: Callable[[LoadBalancer], Awaitable[R]]) -> R:
    topology = load(deploy).deployment.topology
    if not isinstance(topology, LoadBalancer):
        raise DeploymentError(f"{deploy}: topology {topology.name} provides no LoadBalancer")
    balancer: LoadBalancer = topology

    async def go(place: Topology) -> R:
        await place.ensure_ready()
        try:
            return await action(balancer)
        finally:
            await place.close()

    return asyncio.run(go(topology))


@lb_app.command("status")
@guarded
def status(
    deploy: Deploy,
    frontend: Annotated[str | None, typer.Argument(help="Only this frontend.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every backend's admin state, health and connections in flight, per frontend."""

    async def read(lb: LoadBalancer) -> list[BackendStatus]:
        names = [f.name for f in await lb.frontends() if frontend in (None, f.name)]
        if frontend is not None and not names:
            raise DeploymentError(f"no frontend named {frontend!r} is configured")
        return [s for name in names for s in await lb.backend_states(name)]

    states = _run(deploy, read)
    if as_json:
        console.print_json(json.dumps([s.model_dump(mode="json") for s in states]))
        return
    table = Table("frontend", "backend", "address", "state", "health", "sessions")
    for s in states:
        cells = (s.frontend, s.name, f"{s.address}:{s.port}", s.state, s.health.value, str(s.sessions))
        table.add_row(*(Text(c) for c in cells))
    console.print(table)


@lb_app.command("drain")
@guarded
def drain(deploy: Deploy, frontend: FrontendArg, backend: BackendArg) -> None:
    """No new connections to BACKEND; connections in flight finish."""
    _run(deploy, lambda lb: lb.drain_backend(ResourceName(frontend), ResourceName(backend)))
    console.print(f"{frontend}/{backend}: draining", markup=False, highlight=False)


@lb_app.command("activate")
@guarded
def activate(deploy: Deploy, frontend: FrontendArg, backend: BackendArg) -> None:
    """BACKEND takes new connections again."""
    _run(deploy, lambda lb: lb.activate_backend(ResourceName(frontend), ResourceName(backend)))
    console.print(f"{frontend}/{backend}: active", markup=False, highlight=False)
