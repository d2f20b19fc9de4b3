# fails: type check
"""A host name given as a bare string."""

from ipaddress import IPv4Address

from harmony import Host

db = Host(name="db-1", address=IPv4Address("10.0.0.9"))  # expect-error
