# fails: type check
"""A smoke test handed to a deployment without pairing it with its Score."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harmony import Deployment, Outcome, SmokeTest
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost


class MotdSaysHello(SmokeTest[ManagedFile]):
    async def run(self, score: ManagedFile) -> Outcome:
        return Outcome.success("ok")


motd = ManagedFile(path=PurePosixPath("/etc/motd"))
deployment = Deployment(
    topology=LinuxHost.local(root=Path("/x")),
    scores=[motd],
    smoke_tests=[MotdSaysHello()],  # expect-error
)
