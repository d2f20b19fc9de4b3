# fails: type check
"""A Score whose interpret needs more than the Score declares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from harmony import Change, Interpret, ManagedFiles, Outcome, Score
from harmony.domain.capabilities import CommandRunner


class RunsCommands(Interpret[CommandRunner]):
    async def plan(self, topology: CommandRunner) -> Sequence[Change]:
        return []

    async def apply(self, topology: CommandRunner, changes: Sequence[Change]) -> Outcome:
        return Outcome.noop()


class SaysFilesOnly(Score[ManagedFiles]):
    kind: Literal["corpus_says_files_only"] = "corpus_says_files_only"

    def interpret(self) -> Interpret[ManagedFiles]:
        return RunsCommands()  # expect-error
