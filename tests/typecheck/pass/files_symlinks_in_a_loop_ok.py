"""Fixed: two symlinks that point at each other."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import Symlink
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        Symlink(path=PurePosixPath("/etc/alternatives/editor"), target="/usr/bin/vim.basic"),
        Symlink(path=PurePosixPath("/usr/bin/editor"), target="/etc/alternatives/editor"),
    ],
)
