"""Two SSH hosts declared PostgreSQL servers (PostgreSQLHost.on) form a failover pair that provides PostgreSQL;
the same hosts still take plain host Scores."""

from __future__ import annotations

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.values import Port, ip_address
from harmony.modules.files import ManagedFile
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.linux_host import LinuxHost
from harmony.topology.postgres_failover import PostgreSQLFailover
from harmony.topology.postgres_host import PostgreSQLHost

db1 = LinuxHost.ssh(ip_address("10.0.0.11"), name="db-1")
db2 = LinuxHost.ssh(ip_address("10.0.0.12"), name="db-2")
trusted = ("10.0.0.0/24",)
pair = PostgreSQLFailover(
    primary=PostgreSQLHost.on(db1, name="a", listen_address=ip_address("10.0.0.11"), trusted_networks=trusted),
    replica=PostgreSQLHost.on(db2, name="b", listen_address=ip_address("10.0.0.12"), trusted_networks=trusted),
)
database = Deployment(
    topology=pair,
    scores=[PostgreSQLServer(roles=(Role(name="app"),), databases=(Database(name="app", owner="app"),))],
)
solo = Deployment(topology=PostgreSQLHost.on(db1, name="solo", port=Port(5433)), scores=[PostgreSQLServer()])
motd = Deployment(topology=db1, scores=[ManagedFile(path=PurePosixPath("/etc/motd"), content="db-1\n")])
