"""A PostgreSQL primary/replica pair on this machine, kept available by two Harmony agents.

    harmony check examples/pg_failover_deploy            # the pair provides PostgreSQL: type-checks
    python -m examples.pg_failover_deploy up             # apply, start NATS and the two agents; stays in
                                                         # the foreground, Ctrl-C stops everything
    python -m examples.pg_failover_deploy status         # (another shell) each agent's last tick
    harmony failover history --config $ROOT/agent-a.toml # heartbeats and promotions, from NATS

``up`` applies the deployment below (primary set up, replica cloned with pg_basebackup, synchronous
streaming replication), starts an embedded NATS JetStream, and hands each server to its own agent. Kill
the primary (``kill -9`` its postmaster) and the replica is promoted within ``failover_timeout`` plus
one heartbeat; every acknowledged write is on it, and the old primary rejoins as its standby.

Everything lives under ``$HARMONY_PG_ROOT`` (default ``/tmp/harmony-pg-failover``); ports come from
``$HARMONY_PG_PORTS`` (default ``54321,54322``).
"""

from __future__ import annotations

import os
from pathlib import Path

from harmony import Deployment
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.local_postgres import LocalPostgreSQL
from harmony.topology.postgres_failover import PostgreSQLFailover

root = Path(os.environ.get("HARMONY_PG_ROOT", "/tmp/harmony-pg-failover")).absolute()
port_a, port_b = (int(p) for p in os.environ.get("HARMONY_PG_PORTS", "54321,54322").split(","))

pair = PostgreSQLFailover(
    primary=LocalPostgreSQL(name="a", data_dir=root / "a" / "data", port=Port(port_a)),
    replica=LocalPostgreSQL(name="b", data_dir=root / "b" / "data", port=Port(port_b)),
)

deployment = Deployment(
    topology=pair,
    scores=[
        PostgreSQLServer(
            roles=(Role(name="app"),),
            databases=(Database(name="app", owner="app"),),
            settings={"work_mem": "8MB", "log_min_duration_statement": "1s"},
        )
    ],
)
