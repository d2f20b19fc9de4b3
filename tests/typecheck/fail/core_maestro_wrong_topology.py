# fails: type check
"""Running a Score through a Maestro whose topology lacks the capability."""

from __future__ import annotations

from pathlib import PurePosixPath

from harmony import Maestro
from harmony.modules.files import ManagedFile


class Bare:
    @property
    def name(self) -> str:
        return "bare"

    async def ensure_ready(self) -> None: ...

    async def close(self) -> None: ...


async def main() -> None:
    await Maestro(Bare()).apply([ManagedFile(path=PurePosixPath("/etc/motd"))])  # expect-error
