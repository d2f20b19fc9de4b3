"""The remote office-edge example end to end through the real ``harmony`` command, on an SSH lab host as the
router: check, apply, NOOP; then a PC on the router's LAN gets its reservation and PXE options, and DNS
and the intranet answer."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from harmony.testing.ssh_lab import SshLab
from harmony.topology.edge_router import DEFAULT_STATE_DIR, EdgeRouter
from harmony.topology.linux_host import LinuxHost
from tests.fixtures.netns import Lan, sh
from tests.integration.test_edge_address_services import resolve, udhcpc
from tests.integration.test_example_office_edge import harmony

EXAMPLE = "examples/office_edge_ssh_deploy"
BOX = 1  # lab1 is the router of this test


@pytest.fixture
async def office(ssh_lab: SshLab) -> AsyncIterator[tuple[Lan, dict[str, str]]]:
    lab_host = ssh_lab.hosts[BOX]
    host = LinuxHost.from_inventory(ssh_lab.inventory().hosts[BOX], known_hosts=ssh_lab.known_hosts)
    await host.ensure_ready()
    lan = Lan(prefix="hm" + secrets.token_hex(3), router=lab_host.netns)
    lan.add_bridge("br0", IPv4Interface("10.77.0.1/24"))
    pids: list[str] = []
    for name, port in (("app-a", 8081), ("app-b", 8082)):
        root = f"/srv/hm-{name}"
        serve = (
            f"mkdir -p {root} && printf {name} > {root}/index.html && "
            f"busybox httpd -f -p 127.0.0.1:{port} -h {root} </dev/null >/dev/null 2>&1 & echo $!"
        )
        pids.append((await host.run_command(["sh", "-c", serve])).stdout.strip())
    try:
        yield lan, {"HARMONY_LAB": str(ssh_lab.workdir), "HARMONY_EDGE_HOST": lab_host.name}
    finally:
        router = EdgeRouter.on(host)
        await router.ensure_ready()
        await router.stop()
        await host.run_command(["kill", *pids])
        await host.run_command(["nft", "delete", "table", "inet", "harmony"])
        await host.run_command(["rm", "-rf", "--", str(DEFAULT_STATE_DIR)])
        await router.close()
        for client in lan.clients:
            sh(["ip", "netns", "delete", client.netns], check=False)
        lan.run_router(["ip", "link", "delete", "br0"], check=False)


async def test_office_edge_on_a_remote_router_apply_noop_and_the_lan_is_served(
    office: tuple[Lan, dict[str, str]], tmp_path: Path
) -> None:
    lan, env = office
    check = await asyncio.to_thread(harmony, env, "check", EXAMPLE)
    assert check.returncode == 0, check.stdout + check.stderr

    first = await asyncio.to_thread(harmony, env, "apply", EXAMPLE, "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "apply: 5 changed, 0 unchanged, 0 failed, 0 skipped" in first.stdout
    second = await asyncio.to_thread(harmony, env, "apply", EXAMPLE, "--yes", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert events[-1]["counts"] == {"success": 0, "noop": 5, "failure": 0, "skipped": 0}

    node1 = lan.add_client("52:54:00:0e:00:11")
    lease = udhcpc(node1, tmp_path, "0xaf:01")
    assert (lease["ip"], lease["hostname"], lease["boot_file"], lease["siaddr"]) == (
        "10.77.0.11",
        "node1",
        "boot.ipxe",
        "10.77.0.1",
    )
    node1.set_address(IPv4Interface("10.77.0.11/24"))
    assert resolve(node1, "node2.office.lan", "A") == ["10.77.0.12"]
    assert node1.can_reach("10.77.0.1", 80), "the intranet answers through the router's load balancer"
