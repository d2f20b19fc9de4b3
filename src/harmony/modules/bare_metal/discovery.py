"""``NetworkDiscovery``: every machine without a boot script of its own boots the discovery image and reports.

The Score owns the boot server's default script; per-machine scripts (roles) are left alone, so do not
combine it with a ``BootScripts`` that declares a default script. DHCP with network boot
(``DhcpScope(... boot=NetworkBoot(...))``) must point the machines at the same boot server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from harmony.domain.capabilities.boot import BootScript
from harmony.domain.capabilities.discovery import DiscoveryEndpoint
from harmony.domain.capabilities.edge import BareMetalEdge
from harmony.domain.change import Change, text_diff
from harmony.domain.discovery import discovery_script
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score


class NetworkDiscovery(Score[BareMetalEdge]):
    """Unknown machines boot the discovery image and report their hardware to ``endpoint``; they poll it
    every ``poll_seconds`` and reboot once they have a boot script of their own."""

    kind: Literal["network_discovery"] = "network_discovery"
    endpoint: DiscoveryEndpoint
    poll_seconds: int = Field(default=5, ge=1, le=3600)

    @property
    def name(self) -> str:
        return "bare-metal:discovery"

    def interpret(self) -> Interpret[BareMetalEdge]:
        return NetworkDiscoveryInterpret(self)


class NetworkDiscoveryInterpret(Interpret[BareMetalEdge]):
    def __init__(self, score: NetworkDiscovery) -> None:
        self.score = score

    async def _wanted(self, topology: BareMetalEdge) -> BootScript:
        image = await topology.discovery_image()
        return BootScript(content=discovery_script(self.score.endpoint, image, poll_seconds=self.score.poll_seconds))

    async def plan(self, topology: BareMetalEdge) -> Sequence[Change]:
        wanted = await self._wanted(topology)
        current = {s.mac: s.content for s in await topology.boot_scripts()}.get(None)
        changes: list[Change] = []
        served = await topology.served_discovery()
        if served != self.score.endpoint:
            target = f"discovery endpoint {self.score.endpoint.url}"
            changes.append(Change.create(target) if served is None else Change.update(target, f"was {served.url}"))
        if current != wanted.content:
            diff = text_diff(current, wanted.content, wanted.path)
            make = Change.create if current is None else Change.update
            changes.append(make(f"default boot script {wanted.path}", diff))
        return changes

    async def apply(self, topology: BareMetalEdge, changes: Sequence[Change]) -> Outcome:
        image = await topology.discovery_image()
        await topology.serve_discovery(self.score.endpoint, image)
        script = discovery_script(self.score.endpoint, image, poll_seconds=self.score.poll_seconds)
        await topology.put_boot_script(BootScript(content=script))
        return Outcome.success(
            f"discovery image {image.digest[:12]} (kernel {image.kernel_version}, "
            f"{image.size_bytes / 1e6:.1f} MB) served; reports go to {self.score.endpoint.url}",
            *(c.target for c in changes),
        )
