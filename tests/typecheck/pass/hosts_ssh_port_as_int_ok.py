"""Fixed: an SSH port given as a bare int: it must be a validated Port."""

from harmony.domain.values import Port, ip_address
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.ssh(ip_address("10.0.0.2"), port=Port(22))
