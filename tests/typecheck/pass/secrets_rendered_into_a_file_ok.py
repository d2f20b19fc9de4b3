"""Fixed: a secret put into a file with ``Secret.render`` (the file gets the clear value, the plan the mask)."""

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
            content=Secret.render("password=$pw\n", pw=password),
            mode=FileMode("0600"),
        ),
    ],
)
