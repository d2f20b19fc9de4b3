"""Fixed: a file under a path that another Score makes a symlink: it would land in the link's target."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedDirectory, ManagedFile, Symlink
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedDirectory(path=PurePosixPath("/opt/app/etc")),
        ManagedFile(path=PurePosixPath("/opt/app/etc/settings.ini"), content="[main]\n"),
        Symlink(path=PurePosixPath("/etc/app"), target="/opt/app/etc"),
    ],
)
