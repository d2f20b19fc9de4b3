"""``harmony fleet serve``: the always-on controller (and its dashboard) in the foreground."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated

import typer

from harmony.cli.errors import guarded
from harmony.cli.fleet import DEFAULT_HOME, Home, fleet, options
from harmony.fleet.controller import Controller, ControllerSettings
from harmony.fleet.credentials import FleetHome


@fleet.command()
@guarded
def serve(
    name: Annotated[str, typer.Option("--name", help="This controller's name, unique among the fleet's controllers.")],
    home: Home = DEFAULT_HOME,
    lease_timeout: Annotated[
        float, typer.Option(min=0.5, help="Seconds without a renewal before another controller takes over.")
    ] = 5.0,
    offline_after: Annotated[float, typer.Option(min=0.1, help="Seconds without a heartbeat: offline.")] = 15.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Drive rollouts with nobody attached; several may run, one is active (a lease in NATS KV)."""
    identity = FleetHome(home).control()
    settings = ControllerSettings(lease_timeout=lease_timeout, offline_after=offline_after)
    controller = Controller(name, settings)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("nats").setLevel(logging.CRITICAL)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await controller.run(options(identity), stop)

    asyncio.run(go())
