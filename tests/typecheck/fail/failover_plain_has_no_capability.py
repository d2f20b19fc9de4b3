# fails: type check
"""A plain FailoverTopology does not provide the capabilities of its members by itself."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.failover import FailoverTopology
from harmony.topology.linux_host import LinuxHost

pair = FailoverTopology(primary=LinuxHost.local(root=Path("/a")), replica=LinuxHost.local(root=Path("/b")))
deployment = Deployment(topology=pair, scores=[ManagedFile(path=PurePosixPath("/etc/motd"))])  # expect-error
