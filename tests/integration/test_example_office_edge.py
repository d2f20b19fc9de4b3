"""The office-edge example end to end through the real ``harmony`` command: check, plan, apply, NOOP —
on a router namespace this test creates, then the office as a client sees it (DHCP, DNS, TFTP, HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from tests.fixtures.netns import Client, Lan
from tests.integration.test_edge_address_services import resolve, tftp_get, udhcpc

REPO = Path(__file__).resolve().parents[2]
HARMONY = str(Path(sys.executable).parent / "harmony")
EXAMPLE = "examples/office_edge_deploy"


@pytest.fixture
def office(lan: Lan, tmp_path: Path) -> Iterator[tuple[Lan, Client, dict[str, str]]]:
    for name, port in (("app-a", 8081), ("app-b", 8082)):
        root = tmp_path / name
        root.mkdir()
        (root / "index.html").write_text(name)
        lan.on_router.serve_http(str(root), "127.0.0.1", port)
    pc = lan.add_client("52:54:00:cc:00:50")
    pc.set_address(IPv4Interface("10.77.0.50/24"))
    env = {
        "HARMONY_EDGE_NETNS": lan.router,
        "HARMONY_EDGE_STATE": str(tmp_path / "state"),
        "HARMONY_EDGE_MANAGEMENT_NETNS": pc.netns,
    }
    try:
        yield lan, pc, env
    finally:
        subprocess.run([sys.executable, "-c", _STOP, env["HARMONY_EDGE_STATE"]], check=False, timeout=60)


_STOP = (
    "import asyncio, sys, pathlib\n"
    "from harmony.topology.edge_router import EdgeRouter\n"
    "asyncio.run(EdgeRouter(name='x', state_dir=pathlib.Path(sys.argv[1])).stop())\n"
)


def harmony(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HARMONY, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200", **env},
        check=False,
        timeout=300,
    )


def test_office_edge_example_check_plan_apply_noop(office: tuple[Lan, Client, dict[str, str]], tmp_path: Path) -> None:
    lan, pc, env = office
    check = harmony(env, "check", EXAMPLE)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "5 Score(s) on office-router type-check and validate" in check.stdout

    plan = harmony(env, "plan", EXAMPLE)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    for line in (
        "+ dns record A node1.office.lan 10.77.0.11",
        "+ dhcp reservation 52:54:00:0e:00:11",
        "+ boot script ipxe/52-54-00-0e-00-11.ipxe",
        "+ lb backend intranet/app_a",
        "+ firewall rule #2",
    ):
        assert line in plan.stdout, plan.stdout
    assert "plan: 5 Score(s) to change, 0 unchanged" in plan.stdout

    first = harmony(env, "apply", EXAMPLE, "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "apply: 5 changed, 0 unchanged, 0 failed, 0 skipped" in first.stdout

    second = harmony(env, "apply", EXAMPLE, "--yes", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert events[-1]["counts"] == {"success": 0, "noop": 5, "failure": 0, "skipped": 0}

    # The office, as a client sees it.
    assert pc.can_reach("10.77.0.1", 80)
    assert resolve(pc, "node2.office.lan", "A") == ["10.77.0.12"]
    assert resolve(pc, "intranet.office.lan", "CNAME") == ["router.office.lan."]
    assert resolve(pc, "printer.office.lan", "A") == ["NXDOMAIN"]
    node1 = lan.add_client("52:54:00:0e:00:11")
    lease = udhcpc(node1, tmp_path, "0xaf:01")
    assert (lease["ip"], lease["hostname"], lease["boot_file"]) == ("10.77.0.11", "node1", "boot.ipxe")
    node1.set_address(IPv4Interface("10.77.0.11/24"))
    assert tftp_get(node1, tmp_path, "ipxe/52-54-00-0e-00-11.ipxe") == "#!ipxe\necho Installing node1\nexit\n"


def test_lb_command_drains_and_the_next_apply_restores_the_declared_state(
    office: tuple[Lan, Client, dict[str, str]],
) -> None:
    _, pc, env = office
    assert harmony(env, "apply", EXAMPLE, "--yes").returncode == 0
    status = harmony(env, "lb", "status", EXAMPLE, "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    assert [(s["name"], s["state"]) for s in json.loads(status.stdout)] == [("app_a", "active"), ("app_b", "active")]

    drained = harmony(env, "lb", "drain", EXAMPLE, "intranet", "app_a")
    assert drained.returncode == 0, drained.stdout + drained.stderr
    table = harmony(env, "lb", "status", EXAMPLE, "intranet")
    assert "draining" in table.stdout
    assert {pc.run(["curl", "-s", "http://10.77.0.1/"]) for _ in range(4)} == {"app-b"}

    plan = harmony(env, "plan", EXAMPLE)
    assert "~ lb backend intranet/app_a" in plan.stdout, plan.stdout
    assert "plan: 1 Score(s) to change, 4 unchanged" in plan.stdout
    assert harmony(env, "apply", EXAMPLE, "--yes").returncode == 0
    assert "active" in harmony(env, "lb", "status", EXAMPLE).stdout
    assert harmony(env, "lb", "drain", EXAMPLE, "intranet", "nope").returncode == 1


def test_example_reports_a_missing_router_namespace(tmp_path: Path) -> None:
    env = {"HARMONY_EDGE_NETNS": "hmnonexistent", "HARMONY_EDGE_STATE": str(tmp_path / "state")}
    result = harmony(env, "plan", EXAMPLE)
    assert result.returncode == 1
    assert "network namespace 'hmnonexistent' does not exist" in result.stdout + result.stderr
