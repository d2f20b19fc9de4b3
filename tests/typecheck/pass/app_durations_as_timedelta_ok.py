"""Fixed: every duration of an application as a timedelta (stop grace, smoke timeout and interval, LB checks)."""

from datetime import timedelta
from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.containers import ContainerHealthCheck, ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, Exposure, HttpCheck
from harmony.topology.container_host import ContainerHost

site = ContainerHost.isolated(Path("/srv/site"), dns_port=5353)
shop = Application(
    app=ResourceName("shop"),
    image=ImageRef("localhost/shop:3"),
    port=Port(8080),
    expose=Exposure(
        hostname=Hostname("shop.apps.lan"),
        zone=Hostname("apps.lan"),
        port=Port(80),
        check_interval=timedelta(milliseconds=500),
    ),
    smoke=HttpCheck(path="/health", timeout=timedelta(minutes=1), interval=timedelta(seconds=2)),
    health=ContainerHealthCheck(
        command=("wget", "-q", "-O-", "http://127.0.0.1:8080/health"), interval=timedelta(seconds=10)
    ),
    stop_grace=timedelta(seconds=30),
)
deployment = Deployment(topology=site, scores=[shop])
