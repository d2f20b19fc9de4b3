# fails: load
"""A file under a path that another Score makes a regular file."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        ManagedFile(path=PurePosixPath("/etc/cron.d"), content="*/5 * * * * root /usr/local/bin/backup\n"),
        ManagedFile(  # expect-load-error: path_under_file
            path=PurePosixPath("/etc/cron.d/backup"), content="0 3 * * * root /usr/local/bin/backup\n"
        ),
    ],
)
