# fails: load
"""Two Scores with the same name (the same file, declared twice)."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedFile(path=PurePosixPath("/etc/timezone"), content="Europe/Paris\n"),
        ManagedFile(path=PurePosixPath("/etc/timezone"), content="UTC\n"),  # expect-load-error: two Scores are named
    ],
)
