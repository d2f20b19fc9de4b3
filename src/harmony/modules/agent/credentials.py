"""``AgentCredentials``: the file an agent connects to NATS with, mode 0600, its password a ``Secret``.

The file's format is the fleet's device identity file (``fleet agent --credentials``). The password is
revealed only into the file's bytes; the plan never shows the content, only that it changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Literal

from pydantic import field_validator

from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.change import Change
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.secret import FINGERPRINT, Secret
from harmony.modules.agent import make_parents
from harmony.modules.files.managed_file import absolute_path

MODE = 0o600


class AgentCredentials(Score[ManagedFiles]):
    kind: Literal["agent_credentials"] = "agent_credentials"
    path: PurePosixPath
    device: str
    user: str
    password: Secret
    servers: tuple[str, ...]
    inbox_prefix: str = "_INBOX"

    _absolute = field_validator("path")(absolute_path)

    @property
    def name(self) -> str:
        return f"agent-credentials:{self.path}"

    def content(self) -> bytes:
        data = {
            "user": self.user, "password": self.password.reveal(), "servers": list(self.servers),
            "inbox_prefix": self.inbox_prefix, "device": self.device,
        }  # fmt: skip
        return json.dumps(data, indent=2).encode()

    def digest(self) -> str:
        """Changes when any field changes, the password included, without holding it in clear."""
        dump = self.model_dump_json(context=FINGERPRINT)
        return hashlib.sha256(dump.encode()).hexdigest()

    def interpret(self) -> Interpret[ManagedFiles]:
        return AgentCredentialsInterpret(self)


class AgentCredentialsInterpret(Interpret[ManagedFiles]):
    def __init__(self, score: AgentCredentials) -> None:
        self.score = score

    async def plan(self, topology: ManagedFiles) -> Sequence[Change]:
        s = self.score
        current = (await topology.stat_files([s.path], with_content=True))[s.path]
        target = f"file {s.path}"
        if current.kind == "missing":
            return [Change.create(target, f"NATS credentials of device {s.device} (mode 0600; content not shown)\n")]
        notes = "content changes (not shown: it holds a password)\n" if current.content != s.content() else ""
        if current.mode is not None and current.mode != MODE:
            notes += f"mode {current.mode:o} -> {MODE:o}\n"
        return [Change.update(target, notes)] if notes else []

    async def apply(self, topology: ManagedFiles, changes: Sequence[Change]) -> Outcome:
        s = self.score
        await make_parents(topology, s.path, mode=0o700)
        await topology.write_file(s.path, s.content(), mode=MODE, owner=None, group=None)
        return Outcome.success(f"wrote the NATS credentials of {s.device} to {s.path} (mode 0600)")
