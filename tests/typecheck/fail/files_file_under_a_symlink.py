# fails: load
"""A file under a path that another Score makes a symlink: it would land in the link's target."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile, Symlink
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        Symlink(path=PurePosixPath("/etc/app"), target="/opt/app/etc"),
        ManagedFile(  # expect-load-error: path_under_symlink
            path=PurePosixPath("/etc/app/settings.ini"), content="[main]\n"
        ),
    ],
)
