# fails: type check
"""Deploying a container spec itself to a fleet instead of a Score that runs it."""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.fleet.control import FleetControl
from harmony.fleet.rollout import ALL_AT_ONCE


async def roll_out(control: FleetControl) -> None:
    spec = ContainerSpec(name=ContainerName("web"), image=ImageRef("localhost/web:1"))
    await control.deploy("web", spec, selector={"site": "lab"}, strategy=ALL_AT_ONCE)  # expect-error
