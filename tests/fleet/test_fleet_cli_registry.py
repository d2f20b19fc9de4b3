"""``harmony fleet agent --registry-login FILE``: a device started from the command line pulls the pinned image
of an ``Application`` deployed with ``harmony fleet deploy`` from the site registry with its own account; a
login file others can read is refused before the agent starts, naming the file.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmony.domain.score import score_adapter
from harmony.domain.secret import REVEAL
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.topology.container_host import ContainerHost
from tests.fixtures.podman import podman_in, wipe
from tests.fixtures.ports import free_port
from tests.fixtures.registry import PULLERS, Site, publish, site_image
from tests.fleet.test_fleet_applications import get
from tests.fleet.test_fleet_cli import Operator, wait_until
from tests.fleet.test_fleet_registry import site_app

DEVICE = "pi-reg"


@pytest.fixture
def registry_operator(tmp_path: Path) -> Iterator[Operator]:
    op = Operator(tmp_path)
    try:
        yield op
    finally:
        for name in list(op.procs):
            op.stop(name)
        store = tmp_path / DEVICE
        asyncio.run(Haproxy(state_dir=store / "haproxy").stop())
        asyncio.run(Dnsmasq(state_dir=store / "dnsmasq", port=1, interfaces=("lo",)).stop())
        wipe(podman_in(store))


async def test_an_agent_pulls_a_pinned_application_image_with_its_own_registry_login(
    registry_operator: Operator, site_registry: Site, build_host: ContainerHost, tmp_path: Path
) -> None:
    op, site = registry_operator, site_registry
    pinned = await publish(site, build_host, site_image(site, tmp_path, body="fleet from the registry\n"))
    login_file = tmp_path / "pi-reg-registry.json"
    login_file.write_text(site.pull_login(PULLERS[2]).model_dump_json(context=REVEAL))

    op.run("init", "--port", str(free_port()))
    op.start("server", "server")
    nats_log = tmp_path / "fleet" / "nats.log"
    wait_until(lambda: nats_log.exists() and "Server is ready" in nats_log.read_text())
    op.run("register", DEVICE, "-l", "site=lab")
    podman_in(tmp_path / DEVICE)
    agent = ("agent", "--credentials", str(tmp_path / "fleet" / "devices" / f"{DEVICE}.json"),
             "--store", str(tmp_path / DEVICE), "--heartbeat", "0.5", "--dns-port", str(free_port()),
             "--registry-login", str(login_file))  # fmt: skip

    os.chmod(login_file, 0o644)
    refused = op.run(*agent, ok=False)
    assert refused.returncode != 0
    said = (refused.stderr + refused.stdout).replace("\n", "")  # the console wraps long lines
    assert f"--registry-login: '{login_file}' is not valid" in said and "(mode is 644; chmod 600)" in said

    os.chmod(login_file, 0o600)
    op.start(DEVICE, *agent)
    wait_until(lambda: op.run("ping", DEVICE, ok=False).returncode == 0)
    lb_port = free_port()
    score_file = tmp_path / "site.json"
    score_file.write_bytes(score_adapter().dump_json(site_app(pinned, lb_port)))
    done = json.loads(op.run("deploy", "site", str(score_file), "-s", "site=lab", "--json").stdout)
    assert (done["phase"], done["targeted"], done["healthy"], done["failed"]) == ("done", 1, 1, 0)
    assert get(lb_port) == "fleet from the registry\n"
    password = PULLERS[2].password.reveal()
    assert not any(password in out for out in op.outputs)
