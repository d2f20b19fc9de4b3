"""Fixed: a mode made of octal digits only."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

conf = ManagedFile(path=PurePosixPath("/etc/shop.conf"), content="", mode=FileMode("0640"))
deployment = Deployment(topology=LinuxHost.local(), scores=[conf])
