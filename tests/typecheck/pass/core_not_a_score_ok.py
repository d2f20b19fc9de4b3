"""Fixed: something that is not a Score in the Score list."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(topology=LinuxHost.local(root=Path("/x")), scores=[ManagedFile(path=PurePosixPath("/x"))])
