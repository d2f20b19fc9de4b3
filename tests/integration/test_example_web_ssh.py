"""The remote web-app example end to end through the real ``harmony`` command, on an SSH lab host as the
container host: check, apply, NOOP; the app answers through the box's load balancer from this machine."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import AsyncIterator

import pytest

from harmony.testing.ssh_lab import SshLab
from harmony.topology.container_host import DEFAULT_STATE_DIR, ContainerHost
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.podman import wipe_store
from tests.fixtures.ports import free_port
from tests.integration.test_example_office_edge import harmony

EXAMPLE = "examples/web_ssh_deploy"
BOX = 0  # lab0 is the container host of this test


@pytest.fixture
async def lab_env(ssh_lab: SshLab) -> AsyncIterator[dict[str, str]]:
    port, dns_port = free_port(), free_port()
    try:
        yield {
            "HARMONY_LAB": str(ssh_lab.workdir),
            "HARMONY_APP_HOST": ssh_lab.hosts[BOX].name,
            "HARMONY_WEB_PORT": str(port),
            "HARMONY_WEB_DNS_PORT": str(dns_port),
        }
    finally:
        linux = LinuxHost.from_inventory(ssh_lab.inventory().hosts[BOX], known_hosts=ssh_lab.known_hosts)
        host = ContainerHost.on(linux, dns_port=dns_port)
        await host.ensure_ready()
        await host.stop_services()
        await wipe_store(host.podman)
        await linux.run_command(["rm", "-rf", "--", str(DEFAULT_STATE_DIR)])
        await host.close()


@pytest.mark.slow  # `harmony check` type-checks the package: ~30-80 s on a loaded machine
async def test_web_app_on_a_remote_container_host_check_apply_noop_and_served(
    lab_env: dict[str, str], ssh_lab: SshLab
) -> None:
    check = await asyncio.to_thread(harmony, lab_env, "check", EXAMPLE)
    assert check.returncode == 0, check.stdout + check.stderr

    first = await asyncio.to_thread(harmony, lab_env, "apply", EXAMPLE, "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "apply: 2 changed, 0 unchanged, 0 failed, 0 skipped" in first.stdout, first.stdout
    second = await asyncio.to_thread(harmony, lab_env, "apply", EXAMPLE, "--yes", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert events[-1]["counts"] == {"success": 0, "noop": 2, "failure": 0, "skipped": 0}

    url = f"http://{ssh_lab.hosts[BOX].address}:{lab_env['HARMONY_WEB_PORT']}/index.html"
    assert "Hello from a Harmony-deployed web app on a remote host" in await asyncio.to_thread(fetch, url)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()
