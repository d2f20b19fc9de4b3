"""Fixed: a PostgreSQL server's port is a Port, not a bare int."""

from __future__ import annotations

from pathlib import Path

from harmony.domain.values import Port
from harmony.topology.local_postgres import LocalPostgreSQL

server = LocalPostgreSQL(name="a", data_dir=Path("/pg/a"), port=Port(5432))
