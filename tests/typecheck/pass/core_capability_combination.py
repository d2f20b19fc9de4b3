"""A user-defined Score that needs a named combination of capabilities runs on a topology providing both."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from harmony import Change, Deployment, Interpret, ManagedFiles, Outcome, Score
from harmony.domain.capabilities import CommandRunner
from harmony.topology.linux_host import LinuxHost


class FilesAndCommands(ManagedFiles, CommandRunner, Protocol): ...


class ReloadingConfig(Score[FilesAndCommands]):
    kind: Literal["corpus_reloading_config"] = "corpus_reloading_config"
    path: PurePosixPath

    def interpret(self) -> Interpret[FilesAndCommands]:
        return ReloadingConfigInterpret()


class ReloadingConfigInterpret(Interpret[FilesAndCommands]):
    async def plan(self, topology: FilesAndCommands) -> Sequence[Change]:
        return []

    async def apply(self, topology: FilesAndCommands, changes: Sequence[Change]) -> Outcome:
        result = await topology.run_command(["true"])
        return Outcome.success("reloaded") if result.ok else Outcome.failure(result.stderr)


deployment = Deployment(
    topology=LinuxHost.local(root=Path("/tmp/x")), scores=[ReloadingConfig(path=PurePosixPath("/etc/x"))]
)
