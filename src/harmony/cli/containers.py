"""``harmony containers``: look at and look after the containers of a deployment's ``ContainerHost``.

``ps`` and ``logs`` read; ``supervise`` runs the restart-on-failure supervisor in the foreground (what the
agent runs as one of its tasks); ``down`` removes Harmony's containers and stops the deployment's load
balancer and DNS daemons (containers Harmony did not create are never touched).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.cli.errors import guarded
from harmony.cli.loading import load
from harmony.domain.errors import ContainerError, DeploymentError
from harmony.topology.container_host import ContainerHost

app = typer.Typer(name="containers", help="Harmony's containers on a deployment's host: ps, logs, supervise, down.")
console = Console()

Deploy = Annotated[str, typer.Argument(help="Deployment: a .py file, a package directory, or a module name.")]


def _host(spec: str) -> ContainerHost:
    topology: object = load(spec).deployment.topology
    if not isinstance(topology, ContainerHost):
        raise DeploymentError(f"{spec}: its topology is a {type(topology).__name__}, not a ContainerHost")
    return topology


@app.command()
@guarded
def ps(deploy: Deploy, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Harmony's containers (running or not), their state and published ports."""
    host = _host(deploy)
    containers = asyncio.run(host.list_containers())
    if as_json:
        print(json.dumps([c.model_dump(mode="json") for c in containers]))
        return
    table = Table(title=f"containers on {host.name}", caption=" ".join(host.podman.base_argv) + " ps -a")
    for col in ("name", "state", "image", "ports", "app", "version"):
        table.add_column(col)
    for c in containers:
        ports = ", ".join(f"{p.host_ip}:{p.host}->{p.container}" for p in c.ports)
        app_name, version = c.labels.get("io.harmony.app", ""), c.labels.get("io.harmony.version", "")
        table.add_row(*(Text(c) for c in (c.name, c.state, c.image, ports, app_name, version)))
    console.print(table)


@app.command()
@guarded
def logs(
    deploy: Deploy,
    name: Annotated[str, typer.Argument(help="Container name.")],
    tail: Annotated[int, typer.Option(help="How many of the last lines.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
) -> None:
    """The last lines a container wrote (stdout and stderr), optionally following."""
    host = _host(deploy)

    async def show() -> None:
        if not follow:
            for line in await host.container_logs(name, tail=tail):
                print(line)
            return
        async for line in host.follow_logs(name, tail=tail):
            print(line, flush=True)

    asyncio.run(show())


@app.command()
@guarded
def supervise(
    deploy: Deploy,
    interval: Annotated[float, typer.Option(help="Seconds between looks.")] = 1.0,
) -> None:
    """Restart Harmony's containers that crashed or were killed, per their restart policy, until Ctrl-C."""
    host = _host(deploy)
    supervisor = ContainerSupervisor(host, interval=interval)

    async def loop() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        while not stop.is_set():
            for decision in await supervisor.tick():
                if decision.action != "leave":
                    console.print(str(decision), highlight=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    asyncio.run(loop())
    console.print(f"stopped; {supervisor.restarts} restart(s)")


@app.command()
@guarded
def down(deploy: Deploy) -> None:
    """Remove Harmony's containers and pods, and stop the load balancer and DNS daemons of the deployment's host."""
    host = _host(deploy)

    async def tear_down() -> tuple[list[str], list[str]]:
        removed: list[str] = []
        stuck: list[str] = []  # what the runtime refused: the rest is removed and the daemons stopped all the same
        for c in await host.list_container_summaries():
            try:
                await host.remove_container(c.name, grace=2, listed=c)
                removed.append(c.name)
            except ContainerError as e:
                stuck.append(f"{c.name}: {e}")
        for pod in await host.list_pods():  # emptied above: they hold only their loopback ports
            try:
                await host.remove_pod(pod)
            except ContainerError as e:
                stuck.append(str(e))
        await host.stop_services()
        return removed, stuck

    removed, stuck = asyncio.run(tear_down())
    console.print(
        f"removed {len(removed)} container(s){': ' + ', '.join(removed) if removed else ''}; "
        "load balancer and DNS stopped",
        markup=False,
    )
    if stuck:
        raise ContainerError(
            f"not removed: {'; '.join(stuck)}. Fix what the runtime says, then run `harmony containers down` again"
        )
