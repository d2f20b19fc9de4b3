"""Capabilities a topology provides by forwarding every call to one adapter.

A topology that serves, say, ``LoadBalancer`` through HAProxy lists ``ForwardsLoadBalancer`` among its bases
and names the adapter in its ``load_balancer`` property, instead of repeating eight forwarding methods.
Only for capabilities more than one topology forwards as they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from harmony.domain.capabilities.dns import DnsRecordSet, DnsServer
from harmony.domain.capabilities.load_balancer import Backend, BackendStatus, Frontend, LoadBalancer
from harmony.domain.names import ResourceName


class ForwardsLoadBalancer(ABC):
    @property
    @abstractmethod
    def load_balancer(self) -> LoadBalancer:
        """The adapter that serves this topology's ``LoadBalancer``."""

    async def frontends(self) -> Sequence[Frontend]:
        return await self.load_balancer.frontends()

    async def put_frontend(self, frontend: Frontend) -> None:
        await self.load_balancer.put_frontend(frontend)

    async def remove_frontend(self, name: ResourceName) -> None:
        await self.load_balancer.remove_frontend(name)

    async def add_backend(self, frontend: ResourceName, backend: Backend) -> None:
        await self.load_balancer.add_backend(frontend, backend)

    async def drain_backend(self, frontend: ResourceName, backend: ResourceName) -> None:
        await self.load_balancer.drain_backend(frontend, backend)

    async def activate_backend(self, frontend: ResourceName, backend: ResourceName) -> None:
        await self.load_balancer.activate_backend(frontend, backend)

    async def remove_backend(self, frontend: ResourceName, backend: ResourceName, *, grace: float = 30.0) -> None:
        await self.load_balancer.remove_backend(frontend, backend, grace=grace)

    async def backend_states(self, frontend: ResourceName) -> Sequence[BackendStatus]:
        return await self.load_balancer.backend_states(frontend)


class ForwardsDnsServer(ABC):
    @property
    @abstractmethod
    def dns_server(self) -> DnsServer:
        """The adapter that serves this topology's ``DnsServer``."""

    async def dns_record_sets(self) -> Sequence[DnsRecordSet]:
        return await self.dns_server.dns_record_sets()

    async def put_dns_record_set(self, record_set: DnsRecordSet) -> None:
        await self.dns_server.put_dns_record_set(record_set)

    async def remove_dns_record_set(self, owner: ResourceName) -> None:
        await self.dns_server.remove_dns_record_set(owner)
