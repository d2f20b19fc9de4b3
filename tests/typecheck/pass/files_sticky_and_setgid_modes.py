"""Modes with special bits, written in octal."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedDirectory(path=PurePosixPath("/srv/shared"), mode=0o2775, group="users"),
        ManagedDirectory(path=PurePosixPath("/srv/tmp"), mode=0o1777),
        ManagedFile(
            path=PurePosixPath("/etc/sudoers.d/deploy"), content="deploy ALL=(ALL) NOPASSWD: ALL\n", mode=0o440
        ),
    ],
)
