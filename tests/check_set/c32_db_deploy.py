# correct
# The pg-test database server: roles and databases for the shop and its reports.
from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL

pg = LocalPostgreSQL(name="pg-test", data_dir=Path("/var/lib/harmony/pg-test"), port=Port(6543))

deployment = Deployment(
    topology=pg,
    scores=[
        PostgreSQLServer(
            roles=(Role(name="shop"), Role(name="reports", login=False)),
            databases=(Database(name="reports", owner="reports"), Database(name="archive", owner="postgres")),
            settings={"max_connections": "200"},
        )
    ],
)
