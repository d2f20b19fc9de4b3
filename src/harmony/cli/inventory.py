"""``harmony inventory``: machines that booted the discovery image and reported their hardware.

Reads the reports the deployment's topology (a ``MachineDiscovery``, e.g. an ``EdgeRouter``) has received;
changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harmony.cli.errors import guarded
from harmony.cli.loading import load
from harmony.domain.capabilities.discovery import MachineDiscovery
from harmony.domain.capabilities.edge import BareMetalEdge
from harmony.domain.discovery import DiscoveredMachine, discovered, silent_machines
from harmony.domain.errors import DeploymentError
from harmony.domain.topology import Topology

inventory_app = typer.Typer(help="Machines discovered on the network, with their hardware.", no_args_is_help=True)
console = Console()

Deploy = Annotated[str, typer.Argument(help="Deployment: a .py file, a package directory, or a module name.")]


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def read_discovered(deploy: str, *, silent_after: float) -> list[DiscoveredMachine]:
    """Machines that reported, and (on a topology that also serves DHCP) machines that took a lease more
    than ``silent_after`` seconds ago and never reported, each with its problem."""
    topology = load(deploy).deployment.topology
    if not isinstance(topology, MachineDiscovery):
        raise DeploymentError(f"{deploy}: topology {topology.name} discovers no machines (no MachineDiscovery)")
    discovery: MachineDiscovery = topology

    async def go(place: Topology) -> list[DiscoveredMachine]:
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
            return machines
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
    machines = read_discovered(deploy, silent_after=silent_after)
    if as_json:
        console.print_json(json.dumps([m.model_dump(mode="json") for m in machines]))
        return
    table = Table("MAC", "address", "seen", "vendor / product / serial", "CPUs", "memory", "disks", "NICs")
    for m in machines:
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
        table.add_row(*(Text(c) for c in cells))
    console.print(table)
    if not machines:
        console.print("no machine has reported yet", markup=False, highlight=False)
