"""Fixed: a NATS password given as a bare string: it must be a ``Secret`` (masked everywhere it could be printed)."""

from __future__ import annotations

from harmony.domain.secret import Secret
from harmony.infra.nats import NatsOptions

options = NatsOptions(servers=["nats://127.0.0.1:4222"], user="agent", password=Secret("hunter2"))
