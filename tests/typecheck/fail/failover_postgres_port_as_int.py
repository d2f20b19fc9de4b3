# fails: type check
"""A PostgreSQL server's port is a Port, not a bare int."""

from __future__ import annotations

from pathlib import Path

from harmony.topology.local_postgres import LocalPostgreSQL

server = LocalPostgreSQL(name="a", data_dir=Path("/pg/a"), port=5432)  # expect-error
