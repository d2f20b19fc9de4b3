# fails: type check
"""A managed-file Score on a topology that can only run commands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from harmony import Deployment
from harmony.domain.capabilities import CommandResult
from harmony.modules.files import ManagedFile


class CommandsOnly:
    @property
    def name(self) -> str:
        return "commands-only"

    async def ensure_ready(self) -> None: ...

    async def close(self) -> None: ...

    async def run_command(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        return CommandResult(argv=tuple(argv), exit_status=0, stdout="", stderr="")


deployment = Deployment(topology=CommandsOnly(), scores=[ManagedFile(path=PurePosixPath("/etc/motd"))])  # expect-error
