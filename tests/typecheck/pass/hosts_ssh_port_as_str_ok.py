"""Fixed: an SSH port given as a string instead of a Port."""

from harmony.domain.values import Port, ip_address
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh(ip_address("10.0.0.2"), port=Port(2222))
