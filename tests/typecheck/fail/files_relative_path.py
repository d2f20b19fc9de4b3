# fails: load
"""A file path that is not absolute."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedFile(path=PurePosixPath("etc/hosts.allow"), content="sshd: 10.0.0.0/8\n")  # expect-load-error: absolute
    ],
)
