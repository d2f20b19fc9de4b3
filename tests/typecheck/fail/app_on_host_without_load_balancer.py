# fails: type check
"""An exposed application on a host that runs no containers, load balancer or DNS."""

from __future__ import annotations

from harmony import Deployment
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, Exposure, HttpCheck
from harmony.topology.linux_host import LinuxHost

web = Application(
    app=ResourceName("web"),
    image=ImageRef("localhost/web:1"),
    port=Port(8080),
    expose=Exposure(hostname=Hostname("web.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
    smoke=HttpCheck(),
)
deployment = Deployment(topology=LinuxHost.local(), scores=[web])  # expect-error
