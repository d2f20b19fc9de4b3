"""The remote PostgreSQL-pair example end to end through the real ``harmony`` command, on two SSH lab hosts:
check, apply, NOOP; the primary is on the first box with the second box's standby confirming every commit,
and the data directories are on the boxes only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from harmony.domain.values import Port, ip_address
from harmony.testing.ssh_lab import SshLab
from harmony.topology.linux_host import LinuxHost
from harmony.topology.postgres_host import DATA_ROOT, PostgreSQLHost
from tests.fixtures.ports import free_port
from tests.integration.test_example_office_edge import harmony

EXAMPLE = "examples/pg_pair_ssh_deploy"
BOXES = (0, 1)  # lab0 runs the primary a, lab1 the standby b


def servers(lab: SshLab, port: int) -> dict[str, PostgreSQLHost]:
    inventory = lab.inventory().hosts
    return {
        name: PostgreSQLHost.on(
            LinuxHost.from_inventory(inventory[i], known_hosts=lab.known_hosts),
            name=name,
            port=Port(port),
            listen_address=ip_address(lab.hosts[i].address),
        )
        for name, i in zip(("a", "b"), BOXES, strict=True)
    }


@pytest.fixture
async def lab_env(ssh_lab: SshLab) -> AsyncIterator[dict[str, str]]:
    port = free_port()
    try:
        yield {
            "HARMONY_LAB": str(ssh_lab.workdir),
            "HARMONY_PG_HOSTS": ",".join(ssh_lab.hosts[i].name for i in BOXES),
            "HARMONY_PG_PORT": str(port),
        }
    finally:
        for pg in reversed(servers(ssh_lab, port).values()):
            await pg.ensure_ready()
            await pg.instance.stop(mode="immediate")
            assert pg.host is not None
            await pg.host.run_command(["rm", "-rf", "--", str(DATA_ROOT)])
            await pg.close()


@pytest.mark.slow  # `harmony check` type-checks the package, then two servers are set up: ~60 s
async def test_pg_pair_on_two_remote_hosts_check_apply_noop(lab_env: dict[str, str], ssh_lab: SshLab) -> None:
    check = await asyncio.to_thread(harmony, lab_env, "check", EXAMPLE)
    assert check.returncode == 0, check.stdout + check.stderr

    first = await asyncio.to_thread(harmony, lab_env, "apply", EXAMPLE, "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    second = await asyncio.to_thread(harmony, lab_env, "apply", EXAMPLE, "--yes", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert events[-1]["counts"] == {"success": 0, "noop": 1, "failure": 0, "skipped": 0}

    pg = servers(ssh_lab, int(lab_env["HARMONY_PG_PORT"]))
    states = {}
    for name, server in pg.items():
        await server.ensure_ready()
        try:
            states[name] = await server.postgres_state(["work_mem"])
        finally:
            await server.close()
    assert states["a"].server == "primary"
    assert states["b"].server == "standby"
    assert states["a"].sync_standbys == ("b",), "the standby on the other box confirms every commit"
    assert states["a"].databases["app"] == "app"
    assert states["a"].settings["work_mem"] == "8MB"
