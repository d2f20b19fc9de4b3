"""Fixed: a symlink and a directory on the same path."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedDirectory, Symlink
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedDirectory(path=PurePosixPath("/srv/www/releases/42")),
        Symlink(path=PurePosixPath("/srv/www/current"), target="/srv/www/releases/42"),
    ],
)
