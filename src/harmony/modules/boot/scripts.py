"""``BootScripts``: every iPXE script a boot server serves — a default one and one per machine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Self

from pydantic import model_validator

from harmony.domain.capabilities.boot import BootScript, BootServer
from harmony.domain.change import Change, text_diff
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score


class BootScripts(Score[BootServer]):
    """Exactly these scripts are served (scripts of other MACs are removed).

    A client fetches the script for its MAC and falls back to the default (``mac=None``) script.
    """

    kind: Literal["boot_scripts"] = "boot_scripts"
    scripts: tuple[BootScript, ...]

    @model_validator(mode="after")
    def _one_per_mac(self) -> Self:
        seen: set[str] = set()
        for s in self.scripts:
            key = str(s.mac) if s.mac else "default"
            if key in seen:
                raise InvalidValueError("scripts", key, "one script per MAC address and one default")
            seen.add(key)
        return self

    @property
    def name(self) -> str:
        return "boot:scripts"

    def interpret(self) -> Interpret[BootServer]:
        return BootScriptsInterpret(self)


class BootScriptsInterpret(Interpret[BootServer]):
    def __init__(self, score: BootScripts) -> None:
        self.score = score

    async def plan(self, topology: BootServer) -> Sequence[Change]:
        return plan_boot_scripts(self.score.scripts, await topology.boot_scripts())

    async def apply(self, topology: BootServer, changes: Sequence[Change]) -> Outcome:
        current = {s.path: s for s in await topology.boot_scripts()}
        wanted = {s.path: s for s in self.score.scripts}
        for path, script in wanted.items():
            if current.get(path) != script:
                await topology.put_boot_script(script)
        for path, script in current.items():
            if path not in wanted:
                await topology.remove_boot_script(script.mac)
        return Outcome.success(f"{len(wanted)} boot scripts served", *(c.target for c in changes))


def plan_boot_scripts(desired: Sequence[BootScript], current: Sequence[BootScript]) -> list[Change]:
    """Scripts to create, rewrite (with a diff) or remove (pure, tested as a table)."""
    before = {s.path: s.content for s in current}
    after = {s.path: s.content for s in desired}
    changes: list[Change] = []
    for path in sorted(after.keys() | before.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        diff = text_diff(old, new, path)
        if old is None:
            changes.append(Change.create(f"boot script {path}", diff))
        elif new is None:
            changes.append(Change.delete(f"boot script {path}", diff))
        else:
            changes.append(Change.update(f"boot script {path}", diff))
    return changes
