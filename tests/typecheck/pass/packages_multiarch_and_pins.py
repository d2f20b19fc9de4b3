"""Packages for another architecture (libc6:i386) next to pinned and removed ones."""

from harmony import Deployment
from harmony.modules.packages import DebianPackage
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        DebianPackage(package="libc6:i386"),
        DebianPackage(package="libstdc++6:i386"),
        DebianPackage(package="nginx", version="1.22.1-9"),
        DebianPackage(package="telnet", state="absent"),
    ],
)
