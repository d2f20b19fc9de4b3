"""Fixed: a version written into the package name (apt syntax) instead of version=."""

from harmony import Deployment
from harmony.modules.packages import DebianPackage
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(topology=host, scores=[DebianPackage(package="nginx", version="1.22.1-9")])
