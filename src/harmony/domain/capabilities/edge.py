"""Named combinations of the network-edge capabilities, for Scores and topologies that need several."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from harmony.domain.capabilities.boot import BootServer
from harmony.domain.capabilities.dhcp import DhcpServer
from harmony.domain.capabilities.discovery import MachineDiscovery
from harmony.domain.capabilities.dns import DnsServer
from harmony.domain.capabilities.firewall import Firewall
from harmony.domain.capabilities.installation import MachineInstaller
from harmony.domain.capabilities.load_balancer import LoadBalancer


class WebEdge(DnsServer, LoadBalancer, Protocol):
    """Publishes services: names in DNS, traffic through the load balancer."""


class AddressServices(DnsServer, DhcpServer, BootServer, Protocol):
    """Hands out addresses and names, and boots machines from the network."""


class NetworkEdge(DnsServer, DhcpServer, BootServer, LoadBalancer, Firewall, Protocol):
    """A site's edge box: DNS, DHCP with network boot, load balancing and the firewall."""


@runtime_checkable
class BareMetalEdge(DhcpServer, BootServer, MachineDiscovery, MachineInstaller, Protocol):
    """Boots unknown machines into discovery, and known ones into what their role says (the installer)."""
