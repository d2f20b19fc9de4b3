# fails: type check
"""A string where an IP address belongs."""

from harmony import Host, Hostname

web = Host(name=Hostname("web-1"), address="10.0.0.5")  # expect-error
