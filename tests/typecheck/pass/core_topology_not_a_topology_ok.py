"""Fixed: a deployment whose topology is not a Topology at all."""

from harmony import Deployment
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(topology=LinuxHost.local(), scores=[])
