"""Fixed: two groups given the same gid."""

from harmony import Deployment
from harmony.modules.users import Group
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[Group(group="developers", gid=2000), Group(group="operators", gid=2001)],
)
