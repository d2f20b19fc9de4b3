"""A PostgreSQL failover pair provides PostgreSQL because each side does."""

from __future__ import annotations

from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL
from harmony.topology.postgres_failover import PostgreSQLFailover

pair = PostgreSQLFailover(
    primary=LocalPostgreSQL(name="a", data_dir=Path("/pg/a"), port=Port(5432)),
    replica=LocalPostgreSQL(name="b", data_dir=Path("/pg/b"), port=Port(5433)),
)
deployment = Deployment(
    topology=pair,
    scores=[PostgreSQLServer(roles=(Role(name="app"),), databases=(Database(name="app", owner="app"),))],
)
single = Deployment(topology=pair.primary, scores=[PostgreSQLServer()])
