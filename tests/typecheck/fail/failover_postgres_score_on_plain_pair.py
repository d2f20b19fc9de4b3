# fails: type check
"""A plain FailoverTopology of PostgreSQL servers does not provide PostgreSQL by itself."""

from __future__ import annotations

from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import PostgreSQLServer
from harmony.topology.failover import FailoverTopology
from harmony.topology.local_postgres import LocalPostgreSQL

a = LocalPostgreSQL(name="a", data_dir=Path("/pg/a"), port=Port(5432))
b = LocalPostgreSQL(name="b", data_dir=Path("/pg/b"), port=Port(5433))
deployment = Deployment(topology=FailoverTopology(primary=a, replica=b), scores=[PostgreSQLServer()])  # expect-error
