"""``harmony inventory``: machines that booted the discovery image and reported their hardware.

Reads the reports the deployment's topology (a ``MachineDiscovery``, e.g. an ``EdgeRouter``) has received,
and where it installs machines (a ``MachineInstaller``) what each installer reported last, beside the role
the deployment's ``MachineRoles`` give each MAC; changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import typer
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli.errors import guarded
from harmony.cli.loading import load
from harmony.domain.capabilities.discovery import MachineDiscovery
from harmony.domain.capabilities.edge import BareMetalEdge
from harmony.domain.capabilities.installation import LOCAL_BOOT_SCRIPT, InstallState, MachineInstaller
from harmony.domain.discovery import DiscoveredMachine, discovered, silent_machines
from harmony.domain.errors import DeploymentError
from harmony.domain.installation import RoleAssignment
from harmony.domain.topology import Topology
from harmony.domain.values import MacAddress
from harmony.modules.bare_metal.roles import MachineRoles

inventory_app = typer.Typer(help="Machines discovered on the network, with their hardware.", no_args_is_help=True)
console = Console()

Deploy = Annotated[str, typer.Argument(help="Deployment: a .py file, a package directory, or a module name.")]


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


InstallStage = Literal[
    "discovered", "role assigned", "installing", "installed", "install failed", "reinstall requested"
]


class Install(BaseModel):
    """Where a machine is on its way to a managed host: ``discovered`` (no role), ``role assigned`` (installs
    at its next boot), ``installing`` (the installer said it started and has not reported the end yet;
    ``detail``: what it writes where), ``installed``, ``install failed`` (``detail``: the installer's reason),
    or ``reinstall requested`` (a later generation was assigned)."""

    model_config = ConfigDict(frozen=True)

    state: InstallStage
    hostname: str | None = None
    role: str | None = None
    detail: str = ""
    script_served: bool = False
    """Whether the edge serves the machine its install script yet (``harmony apply`` puts it there)."""

    def describe(self) -> str:
        named = f" as {self.hostname} ({self.role})" if self.hostname else ""
        when = "at its next boot" if self.script_served else "once the deployment is applied"
        if self.state in ("role assigned", "reinstall requested"):
            return f"{self.state}{named}: installs {when}"
        if self.state == "installing":
            return f"installing{named}: {self.detail or 'started'}"
        if self.state == "install failed":
            again = f"; installs again{named} {when}" if self.hostname else ""
            return f"install failed: {self.detail or 'no reason given'}{again}"
        return self.state + named


def install_of(state: InstallState | None, role: RoleAssignment | None, *, script_served: bool = False) -> Install:
    """What the installer reported last, else whether the deployment gives the machine a role (pure)."""
    hostname = str(role.hostname) if role is not None else None
    name = role.role.name if role is not None else None
    if state is not None and state.status == "installed":
        return Install(state="installed", hostname=hostname, role=name)
    served = role is not None and script_served
    if state is not None and state.status == "requested":
        return Install(state="reinstall requested", script_served=served, hostname=hostname, role=name)
    if state is not None and state.status == "installing":
        return Install(state="installing", detail=state.detail, script_served=served, hostname=hostname, role=name)
    if state is not None:
        return Install(state="install failed", detail=state.detail, script_served=served, hostname=hostname, role=name)
    if role is None:
        return Install(state="discovered")
    return Install(state="role assigned", script_served=served, hostname=hostname, role=name)


def _roles(scores: Sequence[object]) -> dict[MacAddress, RoleAssignment]:
    """The role the deployment's ``MachineRoles`` give each MAC."""
    return {a.mac: a for s in scores if isinstance(s, MachineRoles) for a in s.assignments}


class Listed(BaseModel):
    machine: DiscoveredMachine
    install: Install


def read_discovered(deploy: str, *, silent_after: float) -> list[Listed]:
    """Machines that reported, and (on a topology that also serves DHCP) machines that took a lease more
    than ``silent_after`` seconds ago and never reported, each with its problem and its install state."""
    deployment = load(deploy).deployment
    topology = deployment.topology
    if not isinstance(topology, MachineDiscovery):
        raise DeploymentError(f"{deploy}: topology {topology.name} discovers no machines (no MachineDiscovery)")
    discovery: MachineDiscovery = topology
    roles = _roles(deployment.scores)

    async def go(place: Topology) -> list[Listed]:
        await place.ensure_ready()
        try:
            reports = await discovery.discovery_reports()
            machines = discovered(reports)
            if isinstance(place, BareMetalEdge):
                edge: BareMetalEdge = place
                silent = silent_machines(
                    await edge.dhcp_leases(), await edge.dhcp_subnets(), reports,
                    now=datetime.now(UTC), timeout=timedelta(seconds=silent_after),
                )  # fmt: skip
                machines += [
                    DiscoveredMachine(mac=s.mac, address=s.address, seen=s.leased, facts=None, problem=s.reason)
                    for s in silent
                ]
            states: dict[MacAddress, InstallState] = {}
            served: set[MacAddress] = set()
            if isinstance(place, MachineInstaller):
                installer: MachineInstaller = place
                states = {s.mac: s for s in await installer.install_states()}
            if isinstance(place, BareMetalEdge):
                served = {
                    s.mac for s in await place.boot_scripts() if s.mac is not None and s.content != LOCAL_BOOT_SCRIPT
                }
            return [
                Listed(
                    machine=m,
                    install=install_of(states.get(m.mac), roles.get(m.mac), script_served=m.mac in served),
                )
                for m in machines
            ]
        finally:
            await place.close()

    return asyncio.run(go(topology))


@inventory_app.command("discovered")
@guarded
def discovered_cmd(
    deploy: Deploy,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    silent_after: Annotated[
        float,
        typer.Option(
            "--silent-after",
            min=0,
            help="List a machine that took a lease this many seconds ago and never reported, saying so.",
        ),
    ] = 300.0,
) -> None:
    """Every machine that reported, by boot MAC: CPU, memory, disks, NICs and DMI identity; and machines
    that took a DHCP lease but never reported."""
    listed = read_discovered(deploy, silent_after=silent_after)
    if as_json:
        console.print_json(
            json.dumps([{**x.machine.model_dump(mode="json"), "install": x.install.model_dump()} for x in listed])
        )
        return
    table = Table("MAC", "address", "seen", "vendor / product / serial", "CPUs", "memory", "disks", "NICs", "install")
    for x in listed:
        m = x.machine
        f = m.facts
        if f is None:
            cells = (str(m.mac), str(m.address or "-"), m.seen.isoformat(timespec="seconds"), m.problem or "", "", "",
                     "", "")  # fmt: skip
        else:
            cells = (
                str(m.mac),
                str(m.address or "-"),
                m.seen.isoformat(timespec="seconds"),
                f"{f.dmi_vendor} / {f.dmi_product} / {f.dmi_serial}",
                f"{f.cpu_count} × {f.cpu_model}",
                _gib(f.memory_bytes),
                ", ".join(f"{d.name} {_gib(d.size_bytes)} {d.serial}".strip() for d in f.disks),
                ", ".join(f"{n.name} {n.mac}" for n in f.nics),
            )
        table.add_row(*(Text(c) for c in (*cells, x.install.describe())))
    console.print(table)
    if not listed:
        console.print("no machine has reported yet", markup=False, highlight=False)
