# fails: load
"""A file owned by a user that another Score removes."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        User(user="olddeploy", present=False),
        ManagedFile(  # expect-load-error: uses_removed_account
            path=PurePosixPath("/srv/deploy.key"), content="k", owner="olddeploy"
        ),
    ],
)
