# fails: type check
"""A PostgreSQL failover pair built from hosts that do not provide PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from harmony.topology.linux_host import LinuxHost
from harmony.topology.postgres_failover import PostgreSQLFailover

a, b = LinuxHost.local(root=Path("/a")), LinuxHost.local(root=Path("/b"))
pair = PostgreSQLFailover(primary=a, replica=b)  # expect-error
