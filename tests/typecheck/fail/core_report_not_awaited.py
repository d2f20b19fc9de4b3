# fails: type check
"""Reading a run's status without awaiting the apply."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harmony import Maestro, Status
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost


def applied(root: Path) -> bool:
    report = Maestro(LinuxHost.local(root=root)).apply([ManagedFile(path=PurePosixPath("/etc/motd"))])
    return report.status is Status.SUCCESS  # expect-error
