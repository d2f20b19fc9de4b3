"""A device agent whose topology is a per-device ContainerHost runs Containers and Applications."""

from __future__ import annotations

from pathlib import Path

from harmony.fleet.device_agent import DeviceAgent
from harmony.infra.nats import NatsOptions
from harmony.topology.container_host import ContainerHost


def agent(options: NatsOptions) -> DeviceAgent:
    host = ContainerHost.isolated(Path("/var/lib/device"), dns_port=5353, name="pi-1")
    return DeviceAgent(device="pi-1", options=options, runtime=host, applications=host)
