"""Fixed: a mode written as decimal 644 (= 0o1204) instead of 0o644."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

host = LinuxHost.local()
deployment = Deployment(
    topology=host,
    scores=[ManagedFile(path=PurePosixPath("/etc/motd"), content="welcome\n", mode=FileMode("0644"))],
)
