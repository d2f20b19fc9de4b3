"""nats-server configurations for a hub cluster and its leaf nodes, and the processes that run them.

The hub is a JetStream cluster (three servers, one domain, routes between all of them) that also listens for
leaf node connections; each site is one nats-server with its own JetStream domain and a leaf node connection
to every hub server (the leaf picks one and moves to another when it drops). Separate domains keep each
site's JetStream API and streams at the site: a client at the site talks to ``$JS.API`` (its own domain)
whether or not the hub is reachable, and the hub reaches a site's JetStream through ``$JS.<domain>.API``.

The leaf connection denies ``$KV.>`` both ways: every site has buckets of the same names, and a write at one
site must never be stored by another site's (or the hub's) stream listening on the same subject. What
crosses is the JetStream API (``$JS.<domain>.API.>``) and the flow of sourced streams, nothing else of KV.

``accounts`` (optional) is a block of server configuration text placed as is (tenants' accounts, see
``harmony.infra.nats.accounts``); with accounts, each leaf connection names the local account it binds and
the credentials it presents to the hub (``LeafRemote``).
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

from harmony.domain.errors import KeyValueUnavailable
from harmony.infra.programs import IP, NATS_SERVER

PING = 'ping_interval: "1s"\nping_max: 3\n'
"""Short pings: a cut leaf link is noticed in ~3 s on both sides (the default is minutes)."""

LEAF_DENY = ["$KV.>"]


@dataclass(frozen=True)
class LeafRemote:
    """One leaf node connection to the hub: which local account it carries and how it logs in at the hub."""

    urls: tuple[str, ...]
    account: str | None = None  # local account bound to this connection (None: the global account)
    credentials: Path | None = None  # a .creds file presented to the hub
    nkey_seed: Path | None = None  # or an NKey seed file (accounts in the hub's configuration)


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid NATS configuration string


def hub_config(
    *,
    name: str,
    store_dir: Path,
    domain: str,
    host: str,
    port: int,
    cluster_name: str,
    cluster_port: int,
    route_ports: Sequence[int],
    leaf_host: str,
    leaf_port: int,
    accounts: str = "",
) -> str:
    """One hub server: client listener, JetStream in ``domain``, routes to the others, a leaf node listener."""
    routes = ", ".join(_q(f"nats-route://127.0.0.1:{p}") for p in route_ports)
    return (
        f"server_name: {_q(name)}\n"
        f"listen: {_q(f'{host}:{port}')}\n"
        f"{PING}"
        f"jetstream {{ store_dir: {_q(str(store_dir))}, domain: {_q(domain)} }}\n"
        f"cluster {{ name: {_q(cluster_name)}, listen: {_q(f'127.0.0.1:{cluster_port}')}, routes: [{routes}] }}\n"
        f"leafnodes {{ listen: {_q(f'{leaf_host}:{leaf_port}')} }}\n"
        f"{accounts}"
    )


def leaf_config(
    *,
    name: str,
    store_dir: Path,
    domain: str,
    host: str,
    port: int,
    remotes: Sequence[LeafRemote],
    accounts: str = "",
) -> str:
    """One site server: client listener, JetStream in the site's own ``domain``, leaf connections to the hub."""
    blocks: list[str] = []
    for remote in remotes:
        parts = [f"urls: [{', '.join(_q(u) for u in remote.urls)}]"]
        if remote.account is not None:
            parts.append(f"account: {_q(remote.account)}")
        if remote.credentials is not None:
            parts.append(f"credentials: {_q(str(remote.credentials))}")
        if remote.nkey_seed is not None:
            parts.append(f"nkey: {_q(remote.nkey_seed.read_text().strip())}")
        deny = json.dumps(LEAF_DENY)
        parts.append(f"deny_imports: {deny}, deny_exports: {deny}")
        blocks.append("{ " + ", ".join(parts) + " }")
    return (
        f"server_name: {_q(name)}\n"
        f"listen: {_q(f'{host}:{port}')}\n"
        f"{PING}"
        f"jetstream {{ store_dir: {_q(str(store_dir))}, domain: {_q(domain)} }}\n"
        f"leafnodes {{ reconnect: 1, remotes: [\n  {',\n  '.join(blocks)}\n] }}\n"
        f"{accounts}"
    )


@dataclass
class NatsProcess:
    """One nats-server run from a configuration text, optionally inside a network namespace.

    The configuration file (mode 0600: it may hold NKey seeds) and the log sit beside ``store_dir``.
    """

    name: str
    store_dir: Path
    config: str
    netns: str | None = None
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    @property
    def conf_file(self) -> Path:
        return self.store_dir.with_name(self.store_dir.name + ".conf")

    @property
    def log_file(self) -> Path:
        return self.store_dir.with_name(self.store_dir.name + ".log")

    async def start(self, *, ready_timeout: float = 15.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.conf_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.config)
        self.log_file.write_text("")
        argv = [str(NATS_SERVER.require()), "-c", str(self.conf_file), "-l", str(self.log_file)]
        if self.netns is not None:
            argv = IP.argv("netns", "exec", self.netns, *argv)
        self.process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ready_timeout
        while loop.time() < deadline:
            if "Server is ready" in self.log_file.read_text():
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        log = self.log_file.read_text()[-800:]
        await self.stop()
        raise KeyValueUnavailable("", f"nats-server {self.name} did not become ready; its log ends: {log}")

    async def reload(self, config: str) -> None:
        """Write ``config`` and make the running server reread it (SIGHUP: connections stay)."""
        self.config = config
        fd = os.open(self.conf_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(config)
        if self.process is not None and self.process.returncode is None:
            before = self.log_file.read_text().count("Reloaded server configuration")
            self.process.send_signal(signal.SIGHUP)
            for _ in range(100):
                if self.log_file.read_text().count("Reloaded server configuration") > before:
                    return
                await asyncio.sleep(0.05)
            raise KeyValueUnavailable(
                "", f"nats-server {self.name} did not reload; its log ends: {self.log_file.read_text()[-800:]}"
            )

    def log_has(self, pattern: str) -> bool:
        return re.search(pattern, self.log_file.read_text()) is not None

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
