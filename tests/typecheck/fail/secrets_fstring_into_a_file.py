# fails: load
"""A secret formatted into a file's content with an f-string: the file would hold the mask, not the secret."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.secret import Secret
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

password = Secret("s3cret-from-the-store")
deployment = Deployment(
    topology=LinuxHost.local(),
    scores=[
        ManagedFile(
            path=PurePosixPath("/etc/app/db.conf"),
            content=f"password={password}\n",  # expect-load-error: Secret.render
            mode=FileMode("0600"),
        ),
    ],
)
