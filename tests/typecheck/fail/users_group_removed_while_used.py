# fails: load
"""A user put in a group that another Score removes."""

from harmony import Deployment
from harmony.modules.users import Group, User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        Group(group="legacy", present=False),
        User(user="carol", groups=("sudo", "legacy")),  # expect-load-error: uses_removed_account
    ],
)
