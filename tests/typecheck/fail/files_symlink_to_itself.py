# fails: load
"""A symlink whose target is its own path."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import Symlink
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[Symlink(path=PurePosixPath("/usr/local/bin/python"), target="python")],  # expect-load-error: target
)
