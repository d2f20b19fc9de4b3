"""Fixed: a string where an IP address belongs."""

from harmony import Host, Hostname
from harmony.domain.values import IPv4Address

web = Host(name=Hostname("web-1"), address=IPv4Address("10.0.0.5"))
