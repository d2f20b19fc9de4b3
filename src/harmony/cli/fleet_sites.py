"""``harmony fleet sites``: every site as the hub sees it (reachable, or unreachable since when)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from harmony.cli.errors import guarded
from harmony.cli.fleet import AsJson, HubCredentials, fleet
from harmony.cli.fleet_hub import console, open_hub, site_json, sites_table


@fleet.command()
@guarded
def sites(
    hub: Annotated[list[str], typer.Option("--hub", help="A hub server URL, repeatable (nats://HOST:PORT).")],
    offline_after: Annotated[float, typer.Option(min=0.1, help="Seconds without a heartbeat: offline.")] = 15.0,
    as_json: AsJson = False,
    hub_credentials: HubCredentials = None,
) -> None:
    """Each site seen from the hub: its link (unreachable since the last time the hub heard from it), devices."""

    async def go() -> None:
        fleet_at_hub = await open_hub(
            hub, name="harmony-fleet-sites", offline_after=offline_after, credentials=hub_credentials
        )
        try:
            rows = await fleet_at_hub.site_status()
        finally:
            await fleet_at_hub.hub.close()
        if as_json:
            print(json.dumps([site_json(r) for r in rows]))
        else:
            console.print(sites_table(rows))

    asyncio.run(go())
