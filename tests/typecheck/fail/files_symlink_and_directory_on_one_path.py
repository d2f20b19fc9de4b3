# fails: load
"""A symlink and a directory on the same path."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedDirectory, Symlink
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedDirectory(path=PurePosixPath("/srv/www/current")),
        Symlink(  # expect-load-error: path_kind_conflict
            path=PurePosixPath("/srv/www/current"), target="/srv/www/releases/42"
        ),
    ],
)
