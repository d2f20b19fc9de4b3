# fails: load
"""A file and a directory declared on the same path."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedDirectory(path=PurePosixPath("/etc/myapp"), mode=FileMode("0755")),
        ManagedFile(path=PurePosixPath("/etc/myapp"), content="port=8080\n"),  # expect-load-error: path_kind_conflict
    ],
)
