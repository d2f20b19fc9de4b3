"""``AgentHost``: a Linux host (local or SSH) that the agent is installed on.

It is a ``LinuxHost`` (files, commands) that also runs services — systemd units where the host runs
systemd, supervised pid-file daemons elsewhere — and sees the agent's heartbeats through a
``HeartbeatMonitor`` (the fleet's NATS KV). The agent Scores (``harmony.modules.agent``) run on it.
"""

from __future__ import annotations

import asyncio
import contextlib

from harmony.domain.capabilities.key_value import KeyValueStore
from harmony.domain.capabilities.services import HeartbeatMonitor, ServiceSpec, ServiceState
from harmony.domain.errors import KeyValueUnavailable
from harmony.infra.daemon import ConnectorServices
from harmony.topology.linux_host import LinuxHost


class AgentHost(LinuxHost):
    def __init__(self, host: LinuxHost, *, heartbeats: HeartbeatMonitor) -> None:
        super().__init__(name=host.name, connector=host.connector, variables=host.variables)
        self.services = ConnectorServices(host.connector)
        self.heartbeats = heartbeats

    # ServiceManager
    async def service_state(self, spec: ServiceSpec) -> ServiceState:
        return await self.services.service_state(spec)

    async def start_service(self, spec: ServiceSpec) -> None:
        await self.services.start_service(spec)

    # ServiceRemover
    async def remove_service(self, spec: ServiceSpec) -> None:
        await self.services.remove_service(spec)

    # HeartbeatMonitor
    async def heartbeat_mark(self, agent: str) -> int:
        return await self.heartbeats.heartbeat_mark(agent)

    async def wait_heartbeat(self, agent: str, *, after: int, timeout: float) -> bool:
        return await self.heartbeats.wait_heartbeat(agent, after=after, timeout=timeout)


class StoreHeartbeats:
    """``HeartbeatMonitor`` over the key-value bucket where each agent's heartbeat key is its name (the fleet's
    ``fleet_heartbeat``). The mark is the key's revision: a later heartbeat has a greater one, whatever the
    clocks of the machines say."""

    def __init__(self, store: KeyValueStore, *, poll: float = 0.1) -> None:
        self.store = store
        self.poll = poll

    async def heartbeat_mark(self, agent: str) -> int:
        found = await self.store.get(agent)
        return 0 if found is None else found.revision

    async def wait_heartbeat(self, agent: str, *, after: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            with contextlib.suppress(KeyValueUnavailable):
                if await self.heartbeat_mark(agent) > after:
                    return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(self.poll)
