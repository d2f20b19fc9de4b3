# fails: load
"""A user name that no shadow tool accepts."""

from harmony import Deployment
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(topology=host, scores=[User(user="Dave Smith")])  # expect-load-error: Dave Smith
