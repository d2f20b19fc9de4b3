"""``harmony fleet sites``: every site as the hub sees it (reachable, or unreachable since when)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harmony.cli.errors import guarded
from harmony.cli.fleet import AsJson, fleet
from harmony.fleet.sites import HubFleet, SiteStatus
from harmony.infra.nats.sites import JetStreamLink

console = Console()


def sites_table(rows: list[SiteStatus]) -> Table:
    table = Table("site", "link", "last heard (UTC)", "devices", "online")
    for r in rows:
        link = "reachable" if r.reachable else "UNREACHABLE"
        heard = r.last_heard.strftime("%Y-%m-%d %H:%M:%S") if r.last_heard else "never"
        table.add_row(r.site, link, heard, str(r.devices), str(r.online))
    return table


@fleet.command()
@guarded
def sites(
    hub: Annotated[list[str], typer.Option("--hub", help="A hub server URL, repeatable (nats://HOST:PORT).")],
    offline_after: Annotated[float, typer.Option(min=0.1, help="Seconds without a heartbeat: offline.")] = 15.0,
    as_json: AsJson = False,
) -> None:
    """Each site seen from the hub: its link (unreachable since the last time the hub heard from it), devices."""

    async def go() -> None:
        link = await JetStreamLink.connect(hub, name="harmony-fleet-sites")
        try:
            names = await link.viewed_sites()
            rows = await (await HubFleet.open(link, names, offline_after=offline_after)).site_status()
        finally:
            await link.close()
        if as_json:
            print(json.dumps([{**r.model_dump(mode="json"), "unreachable_since": _iso(r)} for r in rows]))
        else:
            console.print(sites_table(rows))

    asyncio.run(go())


def _iso(row: SiteStatus) -> str | None:
    since = row.unreachable_since
    return since.isoformat() if since else None
