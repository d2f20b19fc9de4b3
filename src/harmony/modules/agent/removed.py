"""``AgentRemoved``: the agent gone from a host — its service stopped and forgotten, its files removed.

What the agent ran (the workloads of a fleet device, their store) is left alone: removing the agent never
stops them. Plan: the service while it runs or is registered, and each file that is there; nothing when the
agent is already gone (so removing twice is NOOP).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Literal, Protocol

from pydantic import field_validator

from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.capabilities.services import ServiceManager, ServiceRemover, ServiceSpec
from harmony.domain.change import Change
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.files.managed_file import absolute_path


class RemovableAgentHost(ServiceManager, ServiceRemover, ManagedFiles, Protocol):
    """Seeing, stopping and forgetting services, and removing files."""


class AgentRemoved(Score[RemovableAgentHost]):
    kind: Literal["agent_removed"] = "agent_removed"
    agent: str
    service: ServiceSpec
    files: tuple[PurePosixPath, ...]
    """Removed after the service is stopped (files, or directories that are empty by then), in this order."""

    @field_validator("files")
    @classmethod
    def _absolute(cls, files: tuple[PurePosixPath, ...]) -> tuple[PurePosixPath, ...]:
        return tuple(absolute_path(f) for f in files)

    @property
    def name(self) -> str:
        return f"agent-removed:{self.service.name}"

    def interpret(self) -> Interpret[RemovableAgentHost]:
        return AgentRemovedInterpret(self)


class AgentRemovedInterpret(Interpret[RemovableAgentHost]):
    def __init__(self, score: AgentRemoved) -> None:
        self.score = score

    async def plan(self, topology: RemovableAgentHost) -> Sequence[Change]:
        s = self.score
        state = await topology.service_state(s.service)
        found = await topology.stat_files(list(s.files), with_content=False)
        changes: list[Change] = []
        if state.running or state.revision is not None:
            what = "stop and forget it" if state.running else "forget it (not running)"
            changes.append(Change.delete(f"service {s.service.name} ({state.manager})", f"{what}\n"))
        changes += [Change.delete(f"{found[f].kind} {f}") for f in s.files if found[f].kind != "missing"]
        return changes

    async def apply(self, topology: RemovableAgentHost, changes: Sequence[Change]) -> Outcome:
        s = self.score
        await topology.remove_service(s.service)
        found = await topology.stat_files(list(s.files), with_content=False)
        removed = [f for f in s.files if found[f].kind != "missing"]
        for path in removed:
            await topology.remove_path(path)
        listed = ", ".join(str(p) for p in removed) or "no files"
        return Outcome.success(f"agent {s.agent}: service {s.service.name} stopped and removed; removed {listed}")
