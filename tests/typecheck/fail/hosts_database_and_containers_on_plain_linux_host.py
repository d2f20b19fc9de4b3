# fails: type check
"""A plain LinuxHost (over SSH) manages files, users, packages and commands, but is no database server and no
container host until it is declared one (PostgreSQLHost.on(host), ContainerHost)."""

from __future__ import annotations

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.values import ip_address
from harmony.modules.application import Container
from harmony.modules.postgres import PostgreSQLServer
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh(ip_address("10.0.0.5"), user="deploy")
database = Deployment(topology=host, scores=[PostgreSQLServer()])  # expect-error
spec = ContainerSpec(name=ContainerName("web"), image=ImageRef("localhost/web:1"))
containers = Deployment(topology=host, scores=[Container(spec=spec)])  # expect-error
