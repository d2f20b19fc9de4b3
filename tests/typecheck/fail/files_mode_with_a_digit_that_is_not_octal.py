# fails: load
"""A mode with an 8 or 9 in it: not octal, so not a mode."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

conf = ManagedFile(path=PurePosixPath("/etc/shop.conf"), content="", mode=FileMode("0684"))  # expect-load-error: 0684
deployment = Deployment(topology=LinuxHost.local(), scores=[conf])
