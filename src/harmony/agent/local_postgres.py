"""The agent's hands on its own PostgreSQL server: check, fence, start, promote, follow, rejoin.

The agent runs the server as its child (``PostgresInstance.start_supervised``), so killing the agent kills
the server: a primary never outlives the process that decides whether it may still be primary.
"""

from __future__ import annotations

import asyncio

from harmony.agent.decide import LocalHealth
from harmony.domain.capabilities.postgres import ServerEndpoint
from harmony.domain.errors import PostgreSQLError
from harmony.infra.postgres import PostgresInstance

REWIND_ATTEMPTS = 3
_CONNECTION_LOST = ("could not fetch file list", "server closed the connection", "could not connect to server")


class AgentPostgres:
    def __init__(self, instance: PostgresInstance) -> None:
        self.instance = instance

    @property
    def endpoint(self) -> ServerEndpoint:
        return self.instance.endpoint

    async def adopt(self) -> None:
        """Stop a server someone else started (e.g. the deployment), so that this agent owns the next one."""
        if self.instance.child is None and await self.instance.role() in ("primary", "standby"):
            await self.instance.stop(mode="fast")

    async def health(self, *, timeout: float) -> LocalHealth:
        inst = self.instance
        if not await inst.initialized():
            return LocalHealth(role="absent")
        if inst.child is None or inst.child.returncode is not None:
            return LocalHealth(role="stopped", standby_configured=await inst.standby_configured())
        try:
            recovery, receiving, streaming, sync = await inst.health(timeout=timeout)
        except PostgreSQLError:
            return LocalHealth(role="unreachable", standby_configured=await inst.standby_configured())
        return LocalHealth(
            role="standby" if recovery else "primary",
            standby_configured=await inst.standby_configured(),
            receiving=receiving,
            streaming_standbys=streaming,
            sync_standbys=sync,
        )

    async def fence(self, *, timeout: float) -> None:
        """Stop accepting writes now: close the server to clients and end their sessions, keeping it running
        so that recovery is instant; if the server does not answer within ``timeout``, shut it down
        immediately."""
        if self.instance.child is not None and self.instance.child.returncode is None:
            try:
                await self.instance.close_to_clients(timeout=timeout)
                return
            except PostgreSQLError:
                pass
        await self.instance.stop(mode="immediate")

    async def stop(self) -> None:
        await self.instance.stop(mode="fast")

    async def start(self, *, gated: bool = False) -> None:
        """Start; ``gated``: reachable on the local socket only, until ``open_to_clients``."""
        await self.instance.start_supervised(network=not gated)

    async def open_to_clients(self) -> None:
        await self.instance.open_to_network()

    async def promote(self) -> None:
        await self.instance.promote()
        for _ in range(200):
            if await self.instance.role() == "primary":
                # Write the new timeline into the control file now: until then pg_rewind, run by the old
                # primary against this one, would see one timeline and wrongly conclude nothing needs rewinding.
                await self.instance.query("CHECKPOINT", timeout=30)
                return
            await asyncio.sleep(0.05)
        raise PostgreSQLError(self.instance.name, "promotion did not finish within 10s")

    async def follow(self, primary: ServerEndpoint) -> None:
        """Point a stopped standby at ``primary`` (no rewind needed: it never left its timeline)."""
        await self.instance.write_conf(synchronous_standby=None, primary=primary)

    async def rejoin(self, primary: ServerEndpoint) -> str:
        """Turn this (former primary's) data into a standby of ``primary``: ``pg_rewind``, else re-clone with
        ``pg_basebackup`` (e.g. the WAL the rewind needs is gone). Returns how, for the journal."""
        await self.instance.stop(mode="fast")
        if not await self.instance.initialized():
            await self.instance.clone_from(primary)
            return "re-cloned with pg_basebackup (no data directory)"
        attempt = 1
        while True:
            try:
                await self.instance.rewind_from(primary)
                return "rewound with pg_rewind"
            except PostgreSQLError as e:
                # A connection dropped before pg_rewind read anything (the new primary was reloading, say) is
                # worth another try: a re-clone copies the whole cluster.
                if attempt < REWIND_ATTEMPTS and any(m in str(e) for m in _CONNECTION_LOST):
                    attempt += 1
                    await asyncio.sleep(1)
                    continue
                await self.instance.clone_from(primary)
                return f"re-cloned with pg_basebackup after pg_rewind failed: {_error_lines(str(e))}"

    async def require_sync(self, standby: str) -> None:
        await self.instance.set_synchronous_standby(standby)


def _error_lines(output: str) -> str:
    """The tool's error lines (else its last line): what a post-mortem needs, without the noise."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if any(word in line for word in ("error:", "FATAL:", "PANIC:"))]
    return "; ".join(errors or lines[-1:])
