"""``harmony fleet agent --dns-port``: a device started from the command line runs an ``Application`` Score
(blue-green behind its own HAProxy, its name in its own dnsmasq), deployed with ``harmony fleet deploy``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.score import score_adapter
from harmony.domain.values import Hostname, Port
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.modules.application import Application, HttpCheck
from harmony.modules.application.exposure import Exposure
from tests.fixtures.podman import podman_in, wipe
from tests.fixtures.ports import free_port
from tests.fleet.test_fleet_applications import get
from tests.fleet.test_fleet_cli import Operator, wait_until

DEVICE = "pi-app"


@pytest.fixture
def app_operator(tmp_path: Path) -> Iterator[Operator]:
    op = Operator(tmp_path)
    try:
        yield op
    finally:
        for name in list(op.procs):
            op.stop(name)
        store = tmp_path / DEVICE  # the agent leaves its load balancer and DNS running, like any site service
        asyncio.run(Haproxy(state_dir=store / "haproxy").stop())
        asyncio.run(Dnsmasq(state_dir=store / "dnsmasq", port=1, interfaces=("lo",)).stop())
        wipe(podman_in(store))


def test_an_agent_with_a_dns_port_runs_an_application_deployed_from_the_cli(
    app_operator: Operator, tmp_path: Path
) -> None:
    op = app_operator
    op.run("init", "--port", str(free_port()))
    op.start("server", "server")
    nats_log = tmp_path / "fleet" / "nats.log"
    wait_until(lambda: nats_log.exists() and "Server is ready" in nats_log.read_text())
    op.run("busybox-tar", str(tmp_path / "web.tar"))
    op.run("register", DEVICE, "-l", "site=lab")
    podman_in(tmp_path / DEVICE)  # this machine's containers.conf for that store
    op.start(
        DEVICE, "agent", "--credentials", str(tmp_path / "fleet" / "devices" / f"{DEVICE}.json"),
        "--store", str(tmp_path / DEVICE), "--heartbeat", "0.5", "--dns-port", str(free_port()),
        "--image", f"localhost/fleetweb:1={tmp_path / 'web.tar'}",
    )  # fmt: skip
    wait_until(lambda: op.run("ping", DEVICE, ok=False).returncode == 0)

    lb_port = free_port()
    site = Application(
        app=ResourceName("site"),
        image=ImageRef("localhost/fleetweb:1"),
        port=Port(8080),
        command=("sh", "-c", "echo fleet site > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"),
        expose=Exposure(hostname=Hostname("site.fleet.test"), zone=Hostname("fleet.test"), port=Port(lb_port)),
        smoke=HttpCheck(path="/index.html", expect_body="fleet site", timeout=timedelta(seconds=10)),
        stop_grace=timedelta(seconds=1),
    )
    score_file = tmp_path / "site.json"
    score_file.write_bytes(score_adapter().dump_json(site))
    done = json.loads(op.run("deploy", "site", str(score_file), "-s", "site=lab", "--json").stdout)
    assert (done["phase"], done["targeted"], done["healthy"], done["failed"]) == ("done", 1, 1, 0)
    assert get(lb_port) == "fleet site\n"  # through the device's load balancer
