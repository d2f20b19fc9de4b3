# correct
# The pg-main database server on db1 from the inventory: a quarter of its memory as shared buffers.
from harmony import Deployment
from harmony.domain.inventory import Host, Inventory
from harmony.domain.units import GiB
from harmony.domain.values import Hostname, ip_address
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.topology.linux_host import LinuxHost
from harmony.topology.postgres_host import PostgreSQLHost

inventory = Inventory(
    hosts=(Host(name=Hostname("db1"), address=ip_address("10.20.0.41"), cpus=4, memory=GiB(8)),),
)
pg = PostgreSQLHost.on(LinuxHost.from_inventory(inventory.hosts[0]), name="pg-main")

deployment = Deployment(
    topology=pg,
    scores=[
        PostgreSQLServer(
            roles=(Role(name="shop"), Role(name="reports", login=False)),
            databases=(Database(name="shop", owner="shop"), Database(name="reports", owner="reports")),
            settings={"shared_buffers": "2GB", "max_connections": "200"},
        )
    ],
)
