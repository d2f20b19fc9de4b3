# fails: type check
"""A smoke test written for managed files paired with a directory Score."""

from __future__ import annotations

from pathlib import PurePosixPath

from harmony import Outcome, SmokeTest, verify
from harmony.modules.files import ManagedDirectory, ManagedFile


class MotdSaysHello(SmokeTest[ManagedFile]):
    async def run(self, score: ManagedFile) -> Outcome:
        return Outcome.success("ok")


etc = ManagedDirectory(path=PurePosixPath("/etc"))
check = verify(etc, MotdSaysHello())  # expect-error
