"""A static web site: a busybox image built offline, served by ``busybox httpd`` in podman, behind the load
balancer, with a DNS name — deployed blue-green and smoke-tested before it takes traffic.

    harmony apply examples/web_deploy --yes        # builds, deploys, smoke-tests, prints where it is
    curl http://127.0.0.1:8080/                     # through HAProxy
    dig @127.0.0.1 -p 5353 web.apps.lan +short      # the DNS name (dnsmasq)
    python -m examples.web_deploy plan              # the same, without the harmony command

Edit ``site/index.html`` and apply again: the new version starts beside the old one, is smoke-tested,
switched in at the load balancer, and only then is the old one stopped. Apply twice: NOOP.
Settings (environment): ``HARMONY_WEB_STATE`` (default ``.harmony/web``: podman store, HAProxy and dnsmasq
state), ``HARMONY_WEB_PORT`` (load balancer, 8080), ``HARMONY_WEB_DNS_PORT`` (dnsmasq, 5353).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path, PurePosixPath

from harmony import Deployment, verify
from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, ApplicationReachable, BusyboxImage, Exposure, HttpCheck
from harmony.topology.container_host import ContainerHost

SITE = Path(__file__).parent / "site"


def site_image(state: Path, pages: dict[str, str]) -> BusyboxImage:
    """The image: busybox plus the site's pages under /www."""
    return BusyboxImage(
        ref=ImageRef("localhost/web-site:live"),
        files={f"www/{name}": text for name, text in pages.items()},
        staging_dir=PurePosixPath(state.absolute() / "images"),
    )


def web_app(image: BusyboxImage, *, port: int) -> Application:
    return Application(
        app=ResourceName("web"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-v", "-p", "8080", "-h", "/www"),
        expose=Exposure(hostname=Hostname("web.apps.lan"), zone=Hostname("apps.lan"), port=Port(port)),
        smoke=HttpCheck(path="/index.html", expect_body="Harmony", timeout=timedelta(seconds=15)),
        stop_grace=timedelta(seconds=2),
    )


def build(*, state: Path, port: int, dns_port: int, pages: dict[str, str] | None = None) -> Deployment[ContainerHost]:
    """The whole deployment; the e2e test builds it with its own ports and state directory."""
    host = ContainerHost.isolated(state, dns_port=dns_port)
    files = pages if pages is not None else {p.name: p.read_text() for p in sorted(SITE.iterdir()) if p.is_file()}
    image = site_image(state, files)
    app = web_app(image, port=port)
    return Deployment(topology=host, scores=[image, app], smoke_tests=[verify(app, ApplicationReachable(host))])


deployment = build(
    state=Path(os.environ.get("HARMONY_WEB_STATE", ".harmony/web")),
    port=int(os.environ.get("HARMONY_WEB_PORT", "8080")),
    dns_port=int(os.environ.get("HARMONY_WEB_DNS_PORT", "5353")),
)
