"""The PostgreSQL Score on real servers: first apply SUCCESS, second NOOP; on a failover pair the replica is a
streaming synchronous standby cloned with pg_basebackup, and settings reach both sides."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harmony.domain.capabilities.postgres import PostgreSQLState
from harmony.domain.outcome import Status
from harmony.domain.values import Port
from harmony.maestro import Maestro
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL
from harmony.topology.postgres_failover import PostgreSQLFailover
from tests.fixtures.failover import postgres_base, remove_base, wait_for
from tests.fixtures.ports import free_port

SCORE = PostgreSQLServer(
    roles=(Role(name="app"), Role(name="report", login=False)),
    databases=(Database(name="app", owner="app"),),
    settings={"work_mem": "8MB"},
)


@pytest.fixture
def pg_base() -> Iterator[Path]:
    base = postgres_base()
    yield base
    remove_base(base)


def server(base: Path, name: str) -> LocalPostgreSQL:
    return LocalPostgreSQL(name=name, data_dir=base / name / "data", port=Port(free_port()))


async def test_single_server_apply_then_noop(pg_base: Path) -> None:
    pg = server(pg_base, "solo")
    try:
        first = await Maestro(pg).apply([SCORE])
        assert first.status is Status.SUCCESS, first.error
        second = await Maestro(pg).apply([SCORE])
        assert second.status is Status.NOOP
        state = await pg.postgres_state(["work_mem"])
        assert state.databases["app"] == "app"
        assert state.roles["report"].login is False
        assert state.settings["work_mem"] == "8MB"
    finally:
        await pg.instance.stop(mode="immediate")


async def test_failover_pair_clones_a_synchronous_standby_and_converges(pg_base: Path) -> None:
    primary, replica = server(pg_base, "a"), server(pg_base, "b")
    pair = PostgreSQLFailover(primary=primary, replica=replica)
    score = SCORE.model_copy(update={"settings": {"work_mem": "8192kB"}})
    try:
        first = await Maestro(pair).apply([score])
        assert first.status is Status.SUCCESS, first.error
        assert (await Maestro(pair).apply([score])).status is Status.NOOP
        a = await primary.postgres_state(["work_mem"])
        assert a.sync_standbys == ("b",)

        async def replicated() -> PostgreSQLState | None:
            state = await replica.postgres_state(["work_mem"])
            return state if "app" in state.databases else None

        b = await wait_for(replicated, 20, "the database to reach the standby by replication")
        assert (a.server, b.server) == ("primary", "standby")
        assert b.settings["work_mem"] == "8MB"
    finally:
        for side in (replica, primary):
            await side.instance.stop(mode="immediate")
