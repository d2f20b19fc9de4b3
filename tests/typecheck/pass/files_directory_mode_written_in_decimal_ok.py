"""Fixed: a directory mode written as decimal 755."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[ManagedDirectory(path=PurePosixPath("/srv/backups"), mode=FileMode("0750"), owner="root")],
)
