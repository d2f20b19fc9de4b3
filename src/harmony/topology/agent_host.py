"""``AgentHost``: a Linux host (local or SSH) that the agent is installed on.

It is a ``LinuxHost`` (files, commands) that also runs services — systemd units where the host runs
systemd, supervised pid-file daemons elsewhere — and sees the agent's heartbeats through a
``HeartbeatMonitor`` (the fleet's NATS KV). The agent Scores (``harmony.modules.agent``) run on it.
"""

from __future__ import annotations

from harmony.domain.capabilities.services import HeartbeatMonitor, ServiceSpec, ServiceState
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

    # HeartbeatMonitor
    async def heartbeat_mark(self, agent: str) -> int:
        return await self.heartbeats.heartbeat_mark(agent)

    async def wait_heartbeat(self, agent: str, *, after: int, timeout: float) -> bool:
        return await self.heartbeats.wait_heartbeat(agent, after=after, timeout=timeout)
