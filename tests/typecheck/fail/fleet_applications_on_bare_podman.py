# fails: type check
"""A device agent told to run applications on bare podman, which has no load balancer or DNS."""

from __future__ import annotations

from pathlib import Path

from harmony.fleet.device_agent import DeviceAgent
from harmony.infra.nats import NatsOptions
from harmony.infra.podman import Podman


def agent(options: NatsOptions) -> DeviceAgent:
    podman = Podman.isolated(Path("/var/lib/device"))
    return DeviceAgent(device="pi-1", options=options, runtime=podman, applications=podman)  # expect-error
