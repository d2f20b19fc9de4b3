# mistake: the shop database declared twice
# The pg-main database server: roles and databases for the shop and its reports.
from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL

pg = LocalPostgreSQL(name="pg-main", data_dir=Path("/var/lib/harmony/pg-main"), port=Port(5432))

deployment = Deployment(
    topology=pg,
    scores=[
        PostgreSQLServer(
            roles=(Role(name="shop"), Role(name="reports", login=False)),
            databases=(Database(name="shop", owner="shop"), Database(name="shop", owner="reports")),
            settings={"max_connections": "200"},
        )
    ],
)
