"""Fixed: a DHCP pool bounded by strings instead of addresses."""

from harmony.domain.capabilities.dhcp import DhcpPool
from harmony.domain.values import IPv4Address

pool = DhcpPool(start=IPv4Address("10.0.0.100"), end=IPv4Address("10.0.0.200"))
