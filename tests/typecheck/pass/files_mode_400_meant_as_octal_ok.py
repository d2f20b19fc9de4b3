"""Fixed: ``mode=400`` meant as 0o400; the digits of a FileMode are always octal."""

from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

key = ManagedFile(path=PurePosixPath("/etc/ssl/private/site.key"), content="", mode=FileMode("0400"))
deployment = Deployment(topology=LinuxHost.local(), scores=[key])
