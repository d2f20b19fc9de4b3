# fails: type check
"""An AAAA record pointing at an IPv4 address."""

from harmony.domain.capabilities.dns import AaaaRecord
from harmony.domain.values import Hostname, IPv4Address

web6 = AaaaRecord(name=Hostname("web.office.lan"), address=IPv4Address("10.0.0.5"))  # expect-error
