"""Deploying a Container Score to every device labelled site=lab, canary first."""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.fleet.control import FleetControl
from harmony.fleet.rollout import Rollout, Strategy
from harmony.modules.application.container import Container


async def roll_out(control: FleetControl) -> Rollout:
    score = Container(spec=ContainerSpec(name=ContainerName("web"), image=ImageRef("localhost/web:1")))
    await control.deploy("web", score, selector={"site": "lab"}, strategy=Strategy(canary=0.1, waves=3))
    return await control.drive("web")
