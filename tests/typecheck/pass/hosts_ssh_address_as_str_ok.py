"""Fixed: an SSH address given as a bare string instead of an IP address or a Hostname."""

from harmony.domain.values import ip_address
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh(ip_address("10.0.0.2"))
