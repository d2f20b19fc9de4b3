# fails: type check
"""A DHCP pool bounded by strings instead of addresses."""

from harmony.domain.capabilities.dhcp import DhcpPool

pool = DhcpPool(start="10.0.0.100", end="10.0.0.200")  # expect-error
