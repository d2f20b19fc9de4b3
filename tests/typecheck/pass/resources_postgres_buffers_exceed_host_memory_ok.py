"""Fixed: shared_buffers a quarter of the host's memory."""

from harmony import Deployment
from harmony.domain.inventory import Host
from harmony.domain.units import GiB
from harmony.domain.values import Hostname, ip_address
from harmony.modules.postgres import Database, PostgreSQLServer
from harmony.topology.linux_host import LinuxHost
from harmony.topology.postgres_host import PostgreSQLHost

db1 = Host(name=Hostname("db1"), address=ip_address("10.0.0.41"), memory=GiB(8))
pg = PostgreSQLHost.on(LinuxHost.from_inventory(db1), name="main")
server = PostgreSQLServer(databases=(Database(name="shop"),), settings={"shared_buffers": "2GB"})
deployment = Deployment(topology=pg, scores=[server])
