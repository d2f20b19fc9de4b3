from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from harmony import Deployment, Status
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.testing import converge
from harmony.topology.linux_host import LinuxHost


async def test_converge_applies_then_proves_the_noop(tmp_path: Path) -> None:
    deployment = Deployment(
        topology=LinuxHost.local(root=tmp_path),
        scores=[ManagedDirectory(path=PurePosixPath("/etc")), ManagedFile(path=PurePosixPath("/etc/a"), content="1")],
    )
    first, second = await converge(deployment)
    assert (first.status, second.status) == (Status.SUCCESS, Status.NOOP)


async def test_converge_reports_every_failure(tmp_path: Path) -> None:
    deployment = Deployment(
        topology=LinuxHost.local(root=tmp_path), scores=[ManagedFile(path=PurePosixPath("/no/dir/a"), content="1")]
    )
    with pytest.raises(AssertionError, match=r"\n  file:/no/dir/a: apply failed: .*does not exist"):
        await converge(deployment)
