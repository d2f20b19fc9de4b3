"""The web app of ``web_deploy`` on a container host reached over SSH: here an SSH lab host.

The same image and ``Application`` Scores (repeated here: a deploy package stands alone); the topology
differs — ``ContainerHost.on(host)`` makes the box a container host: the image is built and imported there,
podman, HAProxy and dnsmasq run there (state in ``/var/lib/harmony/apps`` on the box), and the smoke checks
run from there. Its ``ensure_ready`` installs the Debian packages the role needs on the box first, or
fails naming the missing one. The load balancer listens on the box's own address, so the app is reachable
from the network; upgrades are blue-green, as on this machine.

    python -m harmony.testing.ssh_lab up .harmony/lab 1            # lab0, root@10.x.0.2 (netns hm…0)
    harmony check examples/web_ssh_deploy
    harmony apply examples/web_ssh_deploy --yes                    # again: every Score is NOOP
    curl http://10.x.0.2:8080/                                     # through the box's HAProxy

The box is the lab host named ``$HARMONY_APP_HOST`` (default ``lab0``) of the lab in ``$HARMONY_LAB``
(default ``.harmony/lab``); ``HARMONY_WEB_PORT`` (load balancer, default 8080) and ``HARMONY_WEB_DNS_PORT``
(dnsmasq on the box's loopback, default 5353) choose the ports.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from harmony import Deployment, verify
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.errors import DeploymentError
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.modules.application import Application, ApplicationReachable, BusyboxImage, Exposure, HttpCheck
from harmony.testing.ssh_lab import load_inventory
from harmony.topology.container_host import DEFAULT_STATE_DIR, ContainerHost
from harmony.topology.linux_host import LinuxHost

SITE = Path(__file__).parent / "site"

lab = Path(os.environ.get("HARMONY_LAB", ".harmony/lab")).absolute()
if not (lab / "inventory.json").exists():
    raise DeploymentError(f"no lab inventory in {lab}; start one with `python -m harmony.testing.ssh_lab up {lab} 1`")
wanted = Hostname(os.environ.get("HARMONY_APP_HOST", "lab0"))
boxes = [h for h in load_inventory(lab).hosts if h.name == wanted]
if not boxes:
    raise DeploymentError(f"no host {wanted} in the lab inventory {lab / 'inventory.json'}; set HARMONY_APP_HOST")
box = boxes[0]
if not isinstance(box.address, IPv4Address):
    raise DeploymentError(f"host {wanted} has address {box.address}; the load balancer needs an IPv4 address")

host = ContainerHost.on(
    LinuxHost.from_inventory(box, known_hosts=lab / "known_hosts"),
    dns_port=int(os.environ.get("HARMONY_WEB_DNS_PORT", "5353")),
)

image = BusyboxImage(
    ref=ImageRef("localhost/web-site:live"),
    files={f"www/{p.name}": p.read_text() for p in sorted(SITE.iterdir()) if p.is_file()},
    staging_dir=DEFAULT_STATE_DIR / "images",
)
app = Application(
    app=ResourceName("web"),
    image=image,
    port=Port(8080),
    command=("httpd", "-f", "-v", "-p", "8080", "-h", "/www"),
    expose=Exposure(
        hostname=Hostname("web.apps.lan"),
        zone=Hostname("apps.lan"),
        address=box.address,
        port=Port(int(os.environ.get("HARMONY_WEB_PORT", "8080"))),
    ),
    smoke=HttpCheck(path="/index.html", expect_body="Harmony", timeout=timedelta(seconds=20)),
    stop_grace=timedelta(seconds=2),
)

deployment = Deployment(topology=host, scores=[image, app], smoke_tests=[verify(app, ApplicationReachable(host))])
