"""The PostgreSQL pair of ``pg_failover_deploy`` on two servers reached over SSH: here two SSH lab hosts.

``PostgreSQLHost.on(host, ...)`` makes each box a database server: its ``ensure_ready`` installs
``postgresql-15`` there (or stops, naming it, before anything is configured), and ``initdb``, ``pg_ctl``,
``pg_basebackup``, the configuration files and the SQL all go through that box's SSH connection. The
primary ``a`` is on the first box, its synchronous standby ``b`` (cloned with ``pg_basebackup`` over the
network) on the second; both listen on their box's own address and trust the lab's network.

    python -m harmony.testing.ssh_lab up .harmony/lab 2            # lab0 and lab1
    harmony check examples/pg_pair_ssh_deploy
    harmony apply examples/pg_pair_ssh_deploy --yes                # again: NOOP

The boxes are the lab hosts named ``$HARMONY_PG_HOSTS`` (default ``lab0,lab1``) of the lab in ``$HARMONY_LAB``
(default ``.harmony/lab``); the servers listen on ``$HARMONY_PG_PORT`` (default 5432), data in
``/var/lib/postgresql/harmony/<name>/data`` on each box. The agents that keep the pair available run on the
boxes as in ``tests/integration/test_failover_lab.py`` (``harmony agent run --config ...``).
"""

from __future__ import annotations

import os
from ipaddress import ip_network
from pathlib import Path

from harmony import Deployment
from harmony.domain.errors import DeploymentError
from harmony.domain.inventory import Host
from harmony.domain.values import Port
from harmony.modules.postgres import Database, PostgreSQLServer, Role
from harmony.testing.ssh_lab import load_inventory
from harmony.topology.linux_host import LinuxHost
from harmony.topology.postgres_failover import PostgreSQLFailover
from harmony.topology.postgres_host import PostgreSQLHost

lab = Path(os.environ.get("HARMONY_LAB", ".harmony/lab")).absolute()
if not (lab / "inventory.json").exists():
    raise DeploymentError(f"no lab inventory in {lab}; start one with `python -m harmony.testing.ssh_lab up {lab} 2`")
names = os.environ.get("HARMONY_PG_HOSTS", "lab0,lab1").split(",")
by_name = {str(h.name): h for h in load_inventory(lab).hosts}
if len(names) != 2 or any(n not in by_name for n in names):
    raise DeploymentError(
        f"HARMONY_PG_HOSTS={','.join(names)}: expected two host names of {lab / 'inventory.json'} "
        f"({', '.join(by_name)})"
    )
port = Port(int(os.environ.get("HARMONY_PG_PORT", "5432")))


def server(name: str, box: Host) -> PostgreSQLHost:
    """The server ``name`` on ``box``, on its own address, trusting the lab's /16 (standby and clients)."""
    lab_network = str(ip_network(f"{box.address}/16", strict=False))
    return PostgreSQLHost.on(
        LinuxHost.from_inventory(box, known_hosts=lab / "known_hosts"),
        name=name,
        port=port,
        listen_address=box.address,
        trusted_networks=(lab_network, "127.0.0.1/32"),
    )


pair = PostgreSQLFailover(primary=server("a", by_name[names[0]]), replica=server("b", by_name[names[1]]))

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
