"""Fixed: a host name given as a bare string."""

from ipaddress import IPv4Address

from harmony import Host
from harmony.domain.values import Hostname

db = Host(name=Hostname("db-1"), address=IPv4Address("10.0.0.9"))
