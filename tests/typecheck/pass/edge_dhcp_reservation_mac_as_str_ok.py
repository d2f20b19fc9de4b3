"""Fixed: a DHCP reservation whose MAC address is a bare string."""

from harmony.domain.capabilities.dhcp import DhcpReservation
from harmony.domain.values import IPv4Address, MacAddress

node = DhcpReservation(mac=MacAddress("52:54:00:12:34:56"), address=IPv4Address("10.0.0.7"))
