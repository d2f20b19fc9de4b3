"""Fixed: one database declared twice with different owners."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL

pg = LocalPostgreSQL(name="pg", data_dir=Path("/var/lib/harmony/pg"), port=Port(5432))
server = PostgreSQLServer(
    roles=(Role(name="shop"), Role(name="reports", login=False)),
    databases=(Database(name="shop", owner="shop"), Database(name="reports", owner="reports")),
)
deployment = Deployment(topology=pg, scores=[server])
