# fails: type check
"""A directory mode written as decimal 755; a mode is a FileMode("0755")."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedDirectory
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[ManagedDirectory(path=PurePosixPath("/srv/backups"), mode=755, owner="root")],  # expect-error
)
