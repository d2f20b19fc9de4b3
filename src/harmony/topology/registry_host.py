"""``RegistryHost``: this machine as the site's image registry (``ImageRegistry``), signed by the site CA.

``RegistryHost.local(state_dir)`` keeps everything under ``state_dir``: the site CA (``ca/``, key 0600) and the
registry's configuration, password files and certificates (``registry/``); the blobs go where the
``SiteRegistry`` Score's ``storage`` says.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

from harmony.domain.capabilities.registry import GarbageReport, RegistrySettings, RegistryStatus, StoredManifest
from harmony.domain.errors import HarmonyError, TopologyError
from harmony.domain.image_refs import ImageDigest
from harmony.infra.connector import Connector
from harmony.infra.local_connector import LocalConnector
from harmony.infra.programs import START_STOP_DAEMON
from harmony.infra.registry import DistributionRegistry
from harmony.infra.site_ca import SiteCA


class RegistryHost:
    def __init__(self, *, name: str, registry: DistributionRegistry) -> None:
        self._name = name
        self.registry = registry

    @classmethod
    def local(cls, state_dir: Path, *, name: str = "registry", netns: str | None = None) -> RegistryHost:
        """Everything under ``state_dir``; ``netns`` runs the daemons inside that network namespace."""
        state_dir = state_dir.absolute()
        return cls(
            name=name,
            registry=DistributionRegistry(state_dir=state_dir / "registry", ca=SiteCA(state_dir / "ca"), netns=netns),
        )

    @classmethod
    def on(cls, connector: Connector, *, name: str, state_dir: PurePosixPath, ca_dir: Path) -> RegistryHost:
        """The registry on the host behind ``connector`` (an SSH host), its state in ``state_dir`` there.

        The site CA stays here in ``ca_dir``: only the certificates it signs go to the registry host.
        """
        return cls(
            name=name,
            registry=DistributionRegistry(state_dir=state_dir, ca=SiteCA(ca_dir), connector=connector),
        )

    @property
    def name(self) -> str:
        return self._name

    async def ensure_ready(self) -> None:
        self.registry.ca.ensure()
        connector = self.registry.connector
        if isinstance(connector, LocalConnector):
            START_STOP_DAEMON.require()
            binary = self.registry.executable()
            if shutil.which(binary) is None:
                raise TopologyError(self._name, f"{binary} is not installed or not executable")
            return
        try:
            await connector.open()
            found = await connector.run_command(["test", "-x", self.registry.executable()], timeout=30)
        except HarmonyError as e:
            raise TopologyError(self._name, f"cannot reach the registry host: {e}") from e
        if not found.ok:
            raise TopologyError(
                self._name, f"{self.registry.executable()} is not installed there (apt-get install docker-registry)"
            )

    async def close(self) -> None:
        if not isinstance(self.registry.connector, LocalConnector):
            await self.registry.connector.close()

    # ImageRegistry

    async def registry_status(self, settings: RegistrySettings) -> RegistryStatus | None:
        return await self.registry.registry_status(settings)

    async def serve_registry(self, settings: RegistrySettings) -> None:
        await self.registry.serve_registry(settings)

    async def stop_registry(self) -> None:
        await self.registry.stop_registry()

    async def stored_manifests(self) -> Sequence[StoredManifest]:
        return await self.registry.stored_manifests()

    async def collect_garbage(self, *, keep: Collection[ImageDigest]) -> GarbageReport:
        return await self.registry.collect_garbage(keep=keep)

    def site_ca_certificate(self) -> str:
        return self.registry.site_ca_certificate()
