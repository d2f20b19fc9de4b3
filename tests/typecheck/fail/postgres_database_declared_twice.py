# fails: load
"""One database declared twice with different owners."""

from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL

pg = LocalPostgreSQL(name="pg", data_dir=Path("/var/lib/harmony/pg"), port=Port(5432))
server = PostgreSQLServer(  # expect-load-error: each name once
    roles=(Role(name="shop"), Role(name="reports")),
    databases=(Database(name="shop", owner="shop"), Database(name="shop", owner="reports")),
)
deployment = Deployment(topology=pg, scores=[server])
