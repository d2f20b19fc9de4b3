"""An exposed application with its image, a worker container and its companion smoke test on a ContainerHost."""

from __future__ import annotations

from pathlib import Path

from harmony import Deployment, verify
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, EnvName, ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import (
    Application,
    ApplicationReachable,
    BusyboxImage,
    CommandCheck,
    Container,
    Exposure,
    HttpCheck,
)
from harmony.topology.container_host import ContainerHost

host = ContainerHost.isolated(Path("/tmp/site"), dns_port=5353)
image = BusyboxImage(ref=ImageRef("localhost/web:1"), files={"www/index.html": "hi"})
worker = Container(
    spec=ContainerSpec(name=ContainerName("worker"), image=image.ref, env={EnvName("MODE"): "batch"}, restart="always"),
    after=(image.name,),
)
web = Application(
    app=ResourceName("web"),
    image=image,
    port=Port(8080),
    expose=Exposure(hostname=Hostname("web.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
    smoke=HttpCheck(path="/index.html", expect_body="hi"),
    after=(worker.name,),
)
api = Application(
    app=ResourceName("api"),
    image=ImageRef("localhost/api:2"),
    port=Port(9000),
    expose=Exposure(hostname=Hostname("api.apps.lan"), zone=Hostname("apps.lan"), port=Port(9000), mode="tcp"),
    smoke=CommandCheck(argv=("test", "-f", "/www/index.html")),
    volumes=(),
)
# Scores needing different capability sets: annotate, so the checker solves T from the topology.
deployment: Deployment[ContainerHost] = Deployment(
    topology=host,
    scores=[image, worker, web, api],
    smoke_tests=[verify(web, ApplicationReachable(host)), verify(api, ApplicationReachable(host))],
)
