"""The web app every version shares: busybox httpd on port 8080 inside, published on loopback, health-checked."""

from __future__ import annotations

from datetime import timedelta

from harmony.domain.capabilities.containers import (
    ContainerHealthCheck,
    ContainerName,
    ContainerSpec,
    ImageRef,
    PortMapping,
)
from harmony.domain.values import Port
from harmony.modules.application.container import Container

IMAGE = ImageRef("localhost/fleetweb:1")


def web(version: str, *, port: int | None = None, broken: bool = False) -> Container:
    """``version`` served on port 8080 of the container (and on loopback ``port`` when given).

    The local walkthrough runs several devices on one machine, so it publishes no host port (they would
    clash); the health check fetches the page from inside. A broken version exits at once.
    """
    serve = f"echo {version} > /tmp/index.html && echo serving {version} && exec httpd -f -vv -p 8080 -h /tmp"
    script = f"echo starting {version} && exit 3" if broken else serve
    return Container(
        spec=ContainerSpec(
            name=ContainerName("web"),
            image=IMAGE,
            command=("sh", "-c", script),
            ports=() if port is None else (PortMapping(container=Port(8080), host=Port(port)),),
            health=ContainerHealthCheck(
                command=("wget", "-q", "-O-", "http://127.0.0.1:8080/index.html"), interval=timedelta(milliseconds=300)
            ),
            restart="no",
        ),
        stop_grace=timedelta(seconds=2),
    )
