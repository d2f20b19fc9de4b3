"""A PostgreSQL server on an SSH lab host (``PostgreSQLHost.on``): programs, files and SQL go through the
host's SSH connection, the data stays on that host; and a role's packages are installed through the
host's packages capability, or the role stops before configuring anything, naming the package."""

from __future__ import annotations

import os
import secrets
from pathlib import PurePosixPath

import pytest

from harmony.domain.errors import MissingPackageError
from harmony.domain.outcome import Status
from harmony.domain.values import Port
from harmony.infra.ssh import SshConnector
from harmony.maestro import Maestro
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.testing.ssh_lab import SshLab
from harmony.topology.postgres_host import PostgreSQLHost
from harmony.topology.prerequisites import require_packages
from tests.fixtures.apt_repo import TEST_PACKAGE
from tests.fixtures.ssh_hosts import lab_hosts

SCORE = PostgreSQLServer(
    roles=(Role(name="app"), Role(name="report", login=False)),
    databases=(Database(name="app", owner="app"),),
    settings={"work_mem": "8MB"},
)


async def test_a_server_on_an_ssh_host_applies_then_is_a_noop(ssh_lab: SshLab) -> None:
    data = PurePosixPath(f"/srv/pg-{secrets.token_hex(3)}/data")
    host = lab_hosts(ssh_lab)[1]
    pg = PostgreSQLHost.on(host, name="remote", port=Port(5432), data_dir=data)
    try:
        first = await Maestro(pg).apply([SCORE])
        assert first.status is Status.SUCCESS, first.error
        assert isinstance(host.connector, SshConnector)
        before = dict(host.connector.execs)
        second = await Maestro(pg).apply([SCORE])
        assert second.status is Status.NOOP, [r.changes for r in second.results]
        spent = {k: n - before.get(k, 0) for k, n in host.connector.execs.items() if n != before.get(k, 0)}
        assert spent == {"run-lock": 1, "read": 1}, "a no-op: the run lock and one round trip of reads"
        await pg.ensure_ready()
        state = await pg.postgres_state(["work_mem"])
        assert state.server == "primary"
        assert state.databases["app"] == "app"
        assert state.roles["report"].login is False
        assert state.settings["work_mem"] == "8MB"
        owner = await host.run_command(["stat", "-c", "%U %a", str(data)])
        assert owner.stdout.split() == ["postgres", "700"]
        assert not os.path.exists(str(data)), "the data directory must be on the lab host only"
    finally:
        await pg.ensure_ready()
        await pg.instance.stop(mode="immediate")
        await host.run_command(["rm", "-rf", str(data.parent)])
        await pg.close()


async def test_a_role_installs_its_missing_package_through_the_packages_capability(ssh_lab: SshLab) -> None:
    host = lab_hosts(ssh_lab)[2]
    await host.ensure_ready()
    try:
        assert (await host.run_command(["apt-get", "update", "-q"], timeout=120)).ok  # the lab's own repository
        if (await host.installed_versions([TEST_PACKAGE]))[TEST_PACKAGE] is not None:
            await host.remove([TEST_PACKAGE])
        assert await require_packages(host, [TEST_PACKAGE, "dpkg"], role="a test role", where="lab2") == [TEST_PACKAGE]
        assert (await host.installed_versions([TEST_PACKAGE]))[TEST_PACKAGE] is not None
        assert await require_packages(host, [TEST_PACKAGE], role="a test role", where="lab2") == []
    finally:
        if (await host.installed_versions([TEST_PACKAGE]))[TEST_PACKAGE] is not None:
            await host.remove([TEST_PACKAGE])
        await host.close()


async def test_a_package_that_cannot_be_installed_stops_the_role_naming_it(ssh_lab: SshLab) -> None:
    host = lab_hosts(ssh_lab)[2]
    await host.ensure_ready()
    try:
        with pytest.raises(MissingPackageError, match=r"a test role needs the Debian package\(s\) hm-no-such-pkg") as e:
            await require_packages(host, ["dpkg", "hm-no-such-pkg"], role="a test role", where="lab2")
        assert e.value.packages == ("hm-no-such-pkg",)
        assert "apt-get install hm-no-such-pkg" in str(e.value)
        assert (await host.installed_versions(["hm-no-such-pkg"]))["hm-no-such-pkg"] is None
    finally:
        await host.close()
