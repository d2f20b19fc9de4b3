"""Two containers with a dependency: a worker that writes a status page every second into a shared
directory, and a web front (busybox httpd) that serves it behind the load balancer as ``board.apps.lan``.

    harmony apply examples/status_board_deploy --yes
    curl http://127.0.0.1:8081/                     # "status board: tick N ..."

The web front's smoke check passes only when the page the worker writes is there, so the dependency is
real: ``board-data`` (a host directory) -> ``container:board-worker`` -> ``app:board``. The worker restarts
``always`` (the supervisor brings it back: ``harmony containers supervise examples/status_board_deploy``).
Settings: ``HARMONY_BOARD_STATE`` (default ``.harmony/board``), ``HARMONY_BOARD_PORT`` (8081),
``HARMONY_BOARD_DNS_PORT`` (5354).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path, PurePosixPath

from harmony import Deployment, verify
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, EnvName, ImageRef, VolumeMount
from harmony.domain.names import ResourceName
from harmony.domain.units import FileMode
from harmony.domain.values import Hostname, Port
from harmony.modules.application import (
    Application,
    ApplicationReachable,
    BusyboxImage,
    Container,
    Exposure,
    HttpCheck,
)
from harmony.modules.files import ManagedDirectory
from harmony.topology.container_host import ContainerHost

WORKER_SCRIPT = """\
#!/bin/sh
# Rewrites the status page every second; the web front serves whatever is there.
i=0
while true; do
  i=$((i+1))
  printf 'status board: tick %s at %s (%s)\\n' "$i" "$(date -u +%H:%M:%S)" "$BOARD_TITLE" > /data/index.html.new
  mv /data/index.html.new /data/index.html
  sleep 1
done
"""


def build(*, state: Path, port: int, dns_port: int, title: str = "office-1") -> Deployment[ContainerHost]:
    state = state.absolute()
    host = ContainerHost.isolated(state, dns_port=dns_port)
    data = PurePosixPath(state / "board-data")
    image = BusyboxImage(
        ref=ImageRef("localhost/board:live"),
        files={"bin/board-worker": WORKER_SCRIPT},
        staging_dir=PurePosixPath(state / "images"),
    )
    directory = ManagedDirectory(path=data, mode=FileMode("0755"))
    worker = Container(
        spec=ContainerSpec(
            name=ContainerName("board-worker"),
            image=image.ref,
            command=("sh", "/bin/board-worker"),
            env={EnvName("BOARD_TITLE"): title},
            volumes=(VolumeMount(source=data, target=PurePosixPath("/data")),),
            network="none",
            restart="always",
        ),
        after=(image.name, directory.name),
        stop_grace=timedelta(seconds=1),
    )
    web = Application(
        app=ResourceName("board"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/data"),
        volumes=(VolumeMount(source=data, target=PurePosixPath("/data"), read_only=True),),
        expose=Exposure(hostname=Hostname("board.apps.lan"), zone=Hostname("apps.lan"), port=Port(port)),
        smoke=HttpCheck(path="/index.html", expect_body="status board", timeout=timedelta(seconds=15)),
        stop_grace=timedelta(seconds=2),
        after=(worker.name,),
    )
    return Deployment(
        topology=host,
        scores=[image, directory, worker, web],
        smoke_tests=[verify(web, ApplicationReachable(host))],
    )


deployment = build(
    state=Path(os.environ.get("HARMONY_BOARD_STATE", ".harmony/board")),
    port=int(os.environ.get("HARMONY_BOARD_PORT", "8081")),
    dns_port=int(os.environ.get("HARMONY_BOARD_DNS_PORT", "5354")),
)
