# fails: type check
"""A mode written as decimal 644 (= 0o1204) instead of octal; a mode is a FileMode("0644")."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[ManagedFile(path=PurePosixPath("/etc/motd"), content="welcome\n", mode=644)],  # expect-error
)
