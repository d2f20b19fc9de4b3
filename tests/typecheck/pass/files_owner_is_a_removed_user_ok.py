"""Fixed: a file owned by a user that another Score removes."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        User(user="olddeploy", present=False),
        User(user="deploy"),
        ManagedFile(path=PurePosixPath("/srv/deploy.key"), content="k", owner="deploy", mode=FileMode("0600")),
    ],
)
