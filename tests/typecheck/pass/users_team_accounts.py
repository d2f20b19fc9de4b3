"""A team's accounts: groups with fixed gids, users in them."""

from harmony import Deployment
from harmony.modules.users import Group, User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[
        Group(group="devs", gid=3000),
        Group(group="ops", gid=3001),
        User(user="alice", uid=3100, groups=("devs",), shell="/bin/bash"),
        User(user="bob", uid=3101, groups=("devs", "ops"), shell="/bin/bash"),
        User(user="mallory", present=False),
    ],
)
