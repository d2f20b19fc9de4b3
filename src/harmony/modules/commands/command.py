"""``Command``: run a program for what no Score covers, made idempotent by guards.

Guards are checked while planning, so they must only read: ``creates`` (skip when that path exists),
``unless`` (skip when that program exits 0), ``onlyif`` (run only when that program exits 0). A Command
without any guard runs on every apply and so is never NOOP; say why in its ``label`` if that is intended.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Literal, Protocol

from pydantic import Field, field_validator

from harmony.domain.capabilities.commands import CommandRunner
from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.change import Change
from harmony.domain.errors import InterpretError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.units import Duration
from harmony.modules.files.managed_file import absolute_path

type Argv = tuple[str, ...]


class GuardedCommands(CommandRunner, ManagedFiles, Protocol):
    """What a guarded command needs: running programs, and reading files for ``creates``."""


def sh(script: str) -> Argv:
    """``argv`` that runs ``script`` with ``/bin/sh`` (pipes, redirections, ``&&``)."""
    return ("sh", "-c", script)


class Command(Score[GuardedCommands]):
    kind: Literal["command"] = "command"
    argv: Argv = Field(min_length=1)
    creates: PurePosixPath | None = None
    unless: Argv | None = None
    onlyif: Argv | None = None
    label: str | None = None
    timeout: Duration = Field(default=timedelta(minutes=10), gt=timedelta(0))

    @field_validator("creates")
    @classmethod
    def _absolute(cls, v: PurePosixPath | None) -> PurePosixPath | None:
        return None if v is None else absolute_path(v)

    @property
    def name(self) -> str:
        return f"command:{self.label or shlex.join(self.argv)}"

    def interpret(self) -> Interpret[GuardedCommands]:
        return CommandInterpret(self)


class CommandInterpret(Interpret[GuardedCommands]):
    def __init__(self, score: Command) -> None:
        self.score = score

    async def plan(self, topology: GuardedCommands) -> Sequence[Change]:
        s = self.score
        created = False
        if s.creates is not None:
            created = (await topology.stat_files([s.creates], with_content=False))[s.creates].kind != "missing"
        unless_ok = s.unless is not None and not created and await self._succeeds(topology, s.unless)
        onlyif_ok = s.onlyif is None or created or unless_ok or await self._succeeds(topology, s.onlyif)
        return plan_command(s, created=created, unless_ok=unless_ok, onlyif_ok=onlyif_ok)

    async def _succeeds(self, topology: GuardedCommands, argv: Argv) -> bool:
        return (await topology.run_command(argv, timeout=self.score.timeout.total_seconds())).ok

    async def apply(self, topology: GuardedCommands, changes: Sequence[Change]) -> Outcome:
        s = self.score
        result = await topology.run_command(s.argv, timeout=s.timeout.total_seconds())
        if not result.ok:
            raise InterpretError(s.name, "apply", f"exited {result.exit_status}: {result.stderr.strip()[-500:]}")
        return Outcome.success(f"ran {shlex.join(s.argv)}", *result.stdout.strip().splitlines()[-5:])


def plan_command(score: Command, *, created: bool, unless_ok: bool, onlyif_ok: bool) -> list[Change]:
    """Run unless a guard says the work is done: a pure decision, tested as a table."""
    if created or unless_ok or not onlyif_ok:
        return []
    why = (
        f"{score.creates} does not exist"
        if score.creates is not None
        else "`unless` failed"
        if score.unless is not None
        else "`onlyif` succeeded"
        if score.onlyif is not None
        else "no guard: runs on every apply"
    )
    return [Change.update(f"run {shlex.join(score.argv)}", why + "\n")]
