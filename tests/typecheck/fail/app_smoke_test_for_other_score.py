# fails: type check
"""The application's smoke test paired with a plain container Score."""

from __future__ import annotations

from pathlib import Path

from harmony import verify
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.modules.application import ApplicationReachable, Container
from harmony.topology.container_host import ContainerHost

host = ContainerHost.isolated(Path("/tmp/site"), dns_port=5353)
worker = Container(spec=ContainerSpec(name=ContainerName("worker"), image=ImageRef("localhost/w:1")))
check = verify(worker, ApplicationReachable(host))  # expect-error
