# fails: type check
"""A boot file for a firmware architecture that does not exist."""

from harmony.domain.capabilities.dhcp import NetworkBoot
from harmony.domain.values import IPv4Address

boot = NetworkBoot(next_server=IPv4Address("10.0.0.1"), boot_files={"uefi": "ipxe.efi"})  # expect-error
