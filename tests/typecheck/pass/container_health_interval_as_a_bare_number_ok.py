"""Fixed: a database container checked every 5 seconds, written as a timedelta."""

from datetime import timedelta
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerHealthCheck, ContainerName, ContainerSpec, ImageRef
from harmony.modules.application import Container
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
db = Container(
    spec=ContainerSpec(
        name=ContainerName("db"),
        image=ImageRef("localhost/postgres:16"),
        health=ContainerHealthCheck(command=("pg_isready",), interval=timedelta(seconds=5)),
    ),
    stop_grace=timedelta(seconds=60),
)
deployment = Deployment(topology=site, scores=[db])
