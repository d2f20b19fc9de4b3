"""``AgentBinary``: the agent's one-file executable on the host, uploaded only when its sha256 differs.

The host's copy is compared by checksum (``sha256sum`` there), never downloaded: the file is tens of MB.
The local file is checked against the Score's ``sha256`` before it is sent, so a file changed after the
Score was made is refused rather than installed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from pydantic import Field, field_validator

from harmony.domain.capabilities.commands import CommandRunner
from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.change import Change
from harmony.domain.errors import InterpretError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.agent import make_parents
from harmony.modules.files.managed_file import absolute_path

DEFAULT_PATH = PurePosixPath("/usr/local/bin/harmony-agent")


class FilesAndCommands(ManagedFiles, CommandRunner, Protocol):
    """What uploading a checked binary needs: writing files, and ``sha256sum`` on the host."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class AgentBinary(Score[FilesAndCommands]):
    """The local executable ``source`` (whose sha256 is ``sha256``) installed at ``path``, mode 0755."""

    kind: Literal["agent_binary"] = "agent_binary"
    source: Path
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    path: PurePosixPath = DEFAULT_PATH

    _absolute = field_validator("path")(absolute_path)

    @classmethod
    def of(cls, source: Path, *, path: PurePosixPath = DEFAULT_PATH) -> AgentBinary:
        return cls(source=source, sha256=sha256_of(source), path=path)

    @property
    def name(self) -> str:
        return f"agent-binary:{self.path}"

    def interpret(self) -> Interpret[FilesAndCommands]:
        return AgentBinaryInterpret(self)


class AgentBinaryInterpret(Interpret[FilesAndCommands]):
    def __init__(self, score: AgentBinary) -> None:
        self.score = score

    async def plan(self, topology: FilesAndCommands) -> Sequence[Change]:
        return plan_binary(self.score, await remote_sha256(topology, self.score.path))

    async def apply(self, topology: FilesAndCommands, changes: Sequence[Change]) -> Outcome:
        s = self.score
        try:
            content = s.source.read_bytes()
        except OSError as e:
            raise InterpretError(s.name, "apply", f"cannot read {s.source}: {e.strerror}") from e
        if hashlib.sha256(content).hexdigest() != s.sha256:
            raise InterpretError(
                s.name, "apply", f"{s.source} no longer has sha256 {s.sha256}: rebuild the Score from the file"
            )
        await make_parents(topology, s.path)
        await topology.write_file(s.path, content, mode=0o755, owner=None, group=None)
        return Outcome.success(f"uploaded {s.source} to {s.path} ({len(content) / 1e6:.1f} MB, sha256 {s.sha256[:12]})")


async def remote_sha256(topology: CommandRunner, path: PurePosixPath) -> str | None:
    """The file's sha256 on the host; None when it is missing or unreadable."""
    result = await topology.run_command(["sha256sum", "--", str(path)], timeout=120)
    digest = result.stdout.split(" ", 1)[0] if result.ok else ""
    return digest if len(digest) == 64 else None


def plan_binary(score: AgentBinary, current: str | None) -> list[Change]:
    target = f"file {score.path}"
    if current is None:
        return [Change.create(target, f"the agent binary, sha256 {score.sha256[:12]}\n")]
    if current != score.sha256:
        return [Change.update(target, f"sha256 {current[:12]} -> {score.sha256[:12]}\n")]
    return []
