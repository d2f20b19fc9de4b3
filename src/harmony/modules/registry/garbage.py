"""``RegistryGarbageCollection``: free the storage of images nobody names any more.

A manifest is kept while a tag names it or its digest is in ``keep`` (every digest still desired: pass the
images the fleet's deployments and the site's applications pin). Everything else is deleted, then every
blob no remaining manifest references. Run it after tags moved on (a re-pushed tag leaves its old manifest
untagged). The pull endpoint keeps serving during collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from harmony.domain.capabilities.registry import ImageRegistry, StoredManifest
from harmony.domain.change import Change
from harmony.domain.errors import RegistryError
from harmony.domain.image_refs import PinnedImage
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score


class RegistryGarbageCollection(Score[ImageRegistry]):
    kind: Literal["registry_garbage_collection"] = "registry_garbage_collection"
    keep: tuple[PinnedImage, ...] = ()

    @property
    def name(self) -> str:
        return "registry-gc"

    def interpret(self) -> Interpret[ImageRegistry]:
        return RegistryGarbageCollectionInterpret(self)


def plan_collection(keep: Sequence[PinnedImage], manifests: Sequence[StoredManifest]) -> list[Change]:
    """One delete per manifest neither tagged nor kept: a pure function."""
    kept = {p.digest for p in keep}
    return [
        Change.delete(f"image {m.repository}@{m.digest}", "untagged and not desired: its blobs are freed\n")
        for m in manifests
        if not m.tags and m.digest not in kept
    ]


class RegistryGarbageCollectionInterpret(Interpret[ImageRegistry]):
    def __init__(self, score: RegistryGarbageCollection) -> None:
        self.score = score

    async def plan(self, topology: ImageRegistry) -> Sequence[Change]:
        return plan_collection(self.score.keep, await topology.stored_manifests())

    async def apply(self, topology: ImageRegistry, changes: Sequence[Change]) -> Outcome:
        try:
            report = await topology.collect_garbage(keep={p.digest for p in self.score.keep})
        except RegistryError as e:
            return Outcome.failure(str(e), *e.evidence)
        return Outcome.success(
            f"deleted {len(report.deleted_manifests)} manifest(s); blobs {report.blobs_before} -> "
            f"{report.blobs_after} ({report.bytes_freed} bytes freed)",
            *(f"deleted {m.repository}@{m.digest}" for m in report.deleted_manifests),
        )
