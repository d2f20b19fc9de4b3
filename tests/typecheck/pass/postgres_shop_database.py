"""A PostgreSQL server with two roles and their databases."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL

pg = LocalPostgreSQL(name="pg", data_dir=Path("/var/lib/harmony/pg"), port=Port(5432))
deployment = Deployment(
    topology=pg,
    scores=[
        PostgreSQLServer(
            roles=(Role(name="shop"), Role(name="analytics", login=False)),
            databases=(Database(name="shop", owner="shop"), Database(name="events", owner="analytics")),
            settings={"max_connections": "200"},
        )
    ],
)
