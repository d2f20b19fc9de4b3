# fails: load
"""Two users given the same uid."""

from harmony import Deployment
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        User(user="alice", uid=1001),
        User(user="bob", uid=1001),  # expect-load-error: duplicate_uid
    ],
)
