"""Fixed: a user whose primary group another Score removes."""

from harmony import Deployment
from harmony.modules.users import Group, User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[Group(group="staff"), User(user="erin", primary_group="staff")],
)
