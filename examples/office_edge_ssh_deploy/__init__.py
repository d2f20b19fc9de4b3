"""The office edge of ``office_edge_deploy`` on a router box reached over SSH: here an SSH lab host.

The same DNS, DHCP/PXE, boot and load-balancing Scores (repeated here); the topology differs — ``EdgeRouter.on(host)``
puts dnsmasq, HAProxy and the nftables ruleset on that box, installs the Debian packages the role needs
there first (or fails naming the missing one), and runs them as systemd units where the box runs systemd,
as pid-file daemons elsewhere (the lab hosts). The firewall keeps the router's SSH port open and must still
reach it after every change: a policy that would lock Harmony out is rolled back, by the box itself if
Harmony's session dies.

    python -m harmony.testing.ssh_lab up .harmony/lab 1            # lab0, root@10.x.0.2 (netns hm…0)
    NS=$(python -c 'import json; print(json.load(open(".harmony/lab/lab.json"))[0]["netns"])')
    ip -n $NS link add br0 type bridge && ip -n $NS addr add 10.77.0.1/24 dev br0 && ip -n $NS link set br0 up
    harmony plan  examples/office_edge_ssh_deploy
    harmony apply examples/office_edge_ssh_deploy --yes            # again: every Score is NOOP

The router is the lab host named ``$HARMONY_EDGE_HOST`` (default ``lab0``) of the lab in ``$HARMONY_LAB``
(default ``.harmony/lab``); its state lives in ``/var/lib/harmony/edge`` on the box.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from harmony import Deployment, Host, Inventory
from harmony.domain.capabilities.boot import BootScript
from harmony.domain.capabilities.dhcp import DhcpPool, DhcpReservation, DhcpSubnet, NetworkBoot
from harmony.domain.capabilities.dns import ARecord, CnameRecord, SrvRecord, address_record
from harmony.domain.capabilities.firewall import LOCAL, Endpoint, FirewallPolicy, Rule, Zone
from harmony.domain.capabilities.load_balancer import Backend, Frontend, HealthCheck
from harmony.domain.errors import DeploymentError
from harmony.domain.inventory import Nic
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, MacAddress, Port
from harmony.modules.boot import BootScripts
from harmony.modules.dhcp import DhcpScope
from harmony.modules.dns import DnsZone
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing
from harmony.testing.ssh_lab import load_inventory
from harmony.topology.edge_router import EdgeRouter
from harmony.topology.linux_host import LinuxHost

lab = Path(os.environ.get("HARMONY_LAB", ".harmony/lab")).absolute()
if not (lab / "inventory.json").exists():
    raise DeploymentError(f"no lab inventory in {lab}; start one with `python -m harmony.testing.ssh_lab up {lab} 1`")
wanted = Hostname(os.environ.get("HARMONY_EDGE_HOST", "lab0"))
boxes = [h for h in load_inventory(lab).hosts if h.name == wanted]
if not boxes:
    raise DeploymentError(f"no host {wanted} in the lab inventory {lab / 'inventory.json'}; set HARMONY_EDGE_HOST")
box = boxes[0]

router = EdgeRouter.on(LinuxHost.from_inventory(box, known_hosts=lab / "known_hosts"))

# The office's Scores, as in office_edge_deploy.
ZONE = Hostname("office.lan")
NETWORK = IPv4Network("10.77.0.0/24")
ROUTER = IPv4Address("10.77.0.1")

inventory = Inventory(
    hosts=(
        Host(
            name=Hostname("node1"),
            address=IPv4Address("10.77.0.11"),
            nics=(Nic(name="eth0", mac=MacAddress("52:54:00:0e:00:11")),),
            roles=frozenset({"worker"}),
        ),
        Host(
            name=Hostname("node2"),
            address=IPv4Address("10.77.0.12"),
            nics=(Nic(name="eth0", mac=MacAddress("52:54:00:0e:00:12")),),
            roles=frozenset({"worker"}),
        ),
    )
)

dns = DnsZone(
    zone=ZONE,
    records=(
        ARecord(name=Hostname("router.office.lan"), address=ROUTER),
        CnameRecord(name=Hostname("intranet.office.lan"), target=Hostname("router.office.lan")),
        SrvRecord(name=ZONE, service="_http", target=Hostname("intranet.office.lan"), port=Port(80)),
        *(address_record(Hostname(f"{h.name}.{ZONE}"), h.address) for h in inventory.hosts),
    ),
)

dhcp = DhcpScope(
    subnet=DhcpSubnet(
        network=NETWORK,
        pools=(DhcpPool(start=IPv4Address("10.77.0.100"), end=IPv4Address("10.77.0.199")),),
        reservations=tuple(DhcpReservation.for_host(h) for h in inventory.hosts),
        router=ROUTER,
        dns_servers=(ROUTER,),
        domain=ZONE,
        boot=NetworkBoot(next_server=ROUTER),
    )
)

boot = BootScripts(
    scripts=(
        BootScript(content="#!ipxe\necho Unknown machine: booting discovery\nshell\n"),
        *(
            BootScript(mac=h.nics[0].mac, content=f"#!ipxe\necho Installing {h.name}\nexit\n")
            for h in inventory.select(role="worker")
        ),
    )
)

intranet = LoadBalancing(
    frontends=(
        Frontend(
            name=ResourceName("intranet"),
            address=ROUTER,
            port=Port(80),
            backends=(
                Backend(name=ResourceName("app_a"), address=IPv4Address("127.0.0.1"), port=Port(8081)),
                Backend(name=ResourceName("app_b"), address=IPv4Address("127.0.0.1"), port=Port(8082)),
            ),
            health_check=HealthCheck(protocol="http", path="/", interval=timedelta(seconds=1)),
        ),
    )
)

lan = Zone(name=ResourceName("lan"), interfaces=("br0",))
wan = Zone(name=ResourceName("wan"), interfaces=("eth0",))
firewall = FirewallRules(
    policy=FirewallPolicy(
        zones=(lan, wan),
        rules=(
            Rule(action="allow", source=lan, destination=LOCAL, protocol="udp", ports=(Port(53), Port(67), Port(69))),
            Rule(action="allow", source=lan, destination=LOCAL, protocol="tcp", ports=(Port(53), Port(80))),
            Rule(action="allow", source=lan, destination=LOCAL, protocol="icmp"),
            Rule(action="allow", source=wan, destination=LOCAL, protocol="tcp", ports=(Port(22),)),  # Harmony's SSH
        ),
    ),
    must_reach=(Endpoint(address=box.address, port=box.ssh_port),),
)

deployment = Deployment(topology=router, scores=[dns, dhcp, boot, intranet, firewall])
