# fails: type check
"""An SSH port given as a string instead of a Port."""

from harmony.domain.values import ip_address
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh(ip_address("10.0.0.2"), port="2222")  # expect-error
