"""Fixed: an AAAA record pointing at an IPv4 address."""

from harmony.domain.capabilities.dns import AaaaRecord
from harmony.domain.values import Hostname, IPv6Address

web6 = AaaaRecord(name=Hostname("web.office.lan"), address=IPv6Address("fd00::5"))
