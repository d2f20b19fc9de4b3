"""Fixed: a package that should be absent, pinned to a version."""

from harmony import Deployment
from harmony.modules.packages import DebianPackage
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[DebianPackage(package="telnet", state="absent"), DebianPackage(package="libc6:i386")],
)
