"""The podman adapter is a ContainerRuntime; ContainerHost provides everything an application needs."""

from __future__ import annotations

from pathlib import Path

from harmony.agent.container_supervisor import ContainerSupervisor
from harmony.domain.capabilities import ContainerRuntime, Prober
from harmony.infra.net_probe import NetProbe
from harmony.infra.podman import Podman
from harmony.modules.application import AppHost, ImageBuilder
from harmony.topology.container_host import ContainerHost

runtime: ContainerRuntime = Podman()
prober: Prober = NetProbe()
host = ContainerHost.isolated(Path("/tmp/site"), dns_port=5353)
app_host: AppHost = host
image_builder: ImageBuilder = host
supervisor = ContainerSupervisor(Podman.isolated(Path("/tmp/site/podman")))
