"""Fixed: a HostGroup of host names is not a group of topologies that manage files."""

from pathlib import PurePosixPath

from harmony.domain.host_group import HostGroup
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

deployment = HostGroup(hosts=[LinuxHost.local()]).deploy([ManagedFile(path=PurePosixPath("/a"))])
