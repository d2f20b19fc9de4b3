"""Modes with special bits, written in octal."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedDirectory(path=PurePosixPath("/srv/shared"), mode=FileMode("2775"), group="users"),
        ManagedDirectory(path=PurePosixPath("/srv/tmp"), mode=FileMode("1777")),
        ManagedFile(
            path=PurePosixPath("/etc/sudoers.d/deploy"),
            content="deploy ALL=(ALL) NOPASSWD: ALL\n",
            mode=FileMode("0440"),
        ),
    ],
)
