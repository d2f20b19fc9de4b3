"""``CommandRunner``: run a program on a host, for what no Score covers.

Contract: ``run_command`` starts ``argv`` (no shell unless the caller runs one explicitly), waits at most
``timeout`` seconds, and returns the exit status with bounded stdout/stderr. A non-zero exit is a result,
not an error; a program that cannot be started, or a timeout, raises ``CommandError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class CommandResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class CommandRunner(Protocol):
    async def run_command(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float | None = None
    ) -> CommandResult: ...
