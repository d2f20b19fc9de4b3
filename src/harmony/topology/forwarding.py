"""Capabilities a topology provides by forwarding every call to one adapter.

A topology that serves, say, ``LoadBalancer`` through HAProxy lists ``ForwardsLoadBalancer`` among its bases
and names the adapter in its ``load_balancer`` property, instead of repeating eight forwarding methods.
Only for capabilities more than one topology forwards as they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import PurePosixPath

from harmony.domain.capabilities.containers import (
    ContainerInfo,
    ContainerRuntime,
    ContainerSpec,
    ContainerSummary,
    ImageInfo,
    ImageRef,
)
from harmony.domain.capabilities.dns import DnsRecordSet, DnsServer
from harmony.domain.capabilities.load_balancer import Backend, BackendStatus, Frontend, LoadBalancer
from harmony.domain.image_refs import PinnedImage
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


class ForwardsContainerRuntime(ABC):
    @property
    @abstractmethod
    def container_runtime(self) -> ContainerRuntime:
        """The adapter that serves this topology's ``ContainerRuntime``."""

    async def import_image(
        self, archive: PurePosixPath, ref: ImageRef, *, labels: Mapping[str, str] | None = None
    ) -> ImageInfo:
        return await self.container_runtime.import_image(archive, ref, labels=labels)

    async def build_image(self, context: PurePosixPath, ref: ImageRef) -> ImageInfo:
        return await self.container_runtime.build_image(context, ref)

    async def load_image(self, archive: PurePosixPath) -> Sequence[ImageInfo]:
        return await self.container_runtime.load_image(archive)

    async def tag_image(self, image: ImageRef, ref: ImageRef) -> None:
        await self.container_runtime.tag_image(image, ref)

    async def list_images(self) -> Sequence[ImageInfo]:
        return await self.container_runtime.list_images()

    async def inspect_image(self, ref: ImageRef | PinnedImage) -> ImageInfo | None:
        return await self.container_runtime.inspect_image(ref)

    async def remove_image(self, ref: ImageRef) -> None:
        await self.container_runtime.remove_image(ref)

    async def remove_image_if_unused(self, image_id: str) -> bool:
        return await self.container_runtime.remove_image_if_unused(image_id)

    async def run_container(self, spec: ContainerSpec, *, settle: bool = True) -> ContainerInfo:
        return await self.container_runtime.run_container(spec, settle=settle)

    async def list_containers(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerInfo]:
        return await self.container_runtime.list_containers(labels)

    async def list_container_summaries(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerSummary]:
        return await self.container_runtime.list_container_summaries(labels)

    async def inspect_container(self, name: str) -> ContainerInfo | None:
        return await self.container_runtime.inspect_container(name)

    async def start_container(self, name: str) -> ContainerInfo:
        return await self.container_runtime.start_container(name)

    async def stop_container(self, name: str, *, grace: float = 10.0) -> None:
        await self.container_runtime.stop_container(name, grace=grace)

    async def remove_container(self, name: str, *, grace: float = 10.0, listed: ContainerSummary | None = None) -> None:
        await self.container_runtime.remove_container(name, grace=grace, listed=listed)

    async def list_pods(self) -> Sequence[str]:
        return await self.container_runtime.list_pods()

    async def remove_pod(self, name: str) -> None:
        await self.container_runtime.remove_pod(name)

    async def exec_in_container(self, name: str, argv: Sequence[str], *, timeout: float) -> tuple[int, str]:
        return await self.container_runtime.exec_in_container(name, argv, timeout=timeout)

    async def check_health(self, name: str) -> bool:
        return await self.container_runtime.check_health(name)

    async def container_logs(self, name: str, *, tail: int = 50) -> Sequence[str]:
        return await self.container_runtime.container_logs(name, tail=tail)

    def follow_logs(self, name: str, *, tail: int = 0) -> AsyncIterator[str]:
        return self.container_runtime.follow_logs(name, tail=tail)
