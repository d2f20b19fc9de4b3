"""One deployment mixing Scores that need different capabilities, on a topology that provides them all."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

from harmony import Change, Deployment, Interpret, Outcome, Score
from harmony.domain.capabilities import CommandRunner
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost


class Reload(Score[CommandRunner]):
    kind: Literal["corpus_reload"] = "corpus_reload"

    def interpret(self) -> Interpret[CommandRunner]:
        return ReloadInterpret()


class ReloadInterpret(Interpret[CommandRunner]):
    async def plan(self, topology: CommandRunner) -> Sequence[Change]:
        return []

    async def apply(self, topology: CommandRunner, changes: Sequence[Change]) -> Outcome:
        return Outcome.noop()


deployment = Deployment(
    topology=LinuxHost.local(root=Path("/tmp/mixed")),
    scores=[ManagedFile(path=PurePosixPath("/etc/app.conf"), content="a=1\n"), Reload()],
)
