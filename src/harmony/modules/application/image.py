"""``BusyboxImage``: an image built offline from the host's static busybox plus the files given.

No registry is involved: the root filesystem tar is assembled in memory, written to ``staging_dir`` on the
host and imported. The digest of ``files`` is stored as an image label (``io.harmony.content``), so changed
files plan an update and unchanged ones are a NOOP — whatever the tag says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Literal, Protocol

from pydantic import Field

from harmony.domain.capabilities.containers import ContainerRuntime, ImageRef
from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.change import Change
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.application.rootfs import busybox_rootfs_tar, content_digest

CONTENT_LABEL = "io.harmony.content"


class ImageBuilder(ContainerRuntime, ManagedFiles, Protocol):
    """A host that runs containers and whose files Harmony manages (to stage image archives)."""


class BusyboxImage(Score[ImageBuilder]):
    """The image ``ref``: busybox with ``files`` (path inside the image -> text) baked in."""

    kind: Literal["busybox_image"] = "busybox_image"
    ref: ImageRef
    files: Mapping[str, str] = Field(default_factory=dict[str, str])
    busybox: PurePosixPath = PurePosixPath("/bin/busybox")
    staging_dir: PurePosixPath = PurePosixPath("/var/tmp/harmony-images")

    @property
    def name(self) -> str:
        return f"image:{self.ref.qualified}"

    def interpret(self) -> Interpret[ImageBuilder]:
        return BusyboxImageInterpret(self)


def plan_image(score: BusyboxImage, labels: Mapping[str, str] | None) -> list[Change]:
    """``labels`` of the current image, ``None`` when there is none: a pure diff."""
    target = f"image {score.ref.qualified}"
    digest = content_digest(score.files)
    if labels is None:
        return [Change.create(target, f"import busybox + {len(score.files)} file(s) (content {digest})\n")]
    if labels.get(CONTENT_LABEL) != digest:
        return [Change.update(target, f"content {labels.get(CONTENT_LABEL)} -> {digest}\n")]
    return []


class BusyboxImageInterpret(Interpret[ImageBuilder]):
    def __init__(self, score: BusyboxImage) -> None:
        self.score = score

    async def plan(self, topology: ImageBuilder) -> Sequence[Change]:
        info = await topology.inspect_image(self.score.ref)
        return plan_image(self.score, None if info is None else info.labels)

    async def apply(self, topology: ImageBuilder, changes: Sequence[Change]) -> Outcome:
        s = self.score
        found = (await topology.stat_files([s.busybox], with_content=True))[s.busybox]
        if found.kind != "file" or found.content is None:
            return Outcome.failure(f"{s.busybox} is not a file on the host; install busybox-static (scripts/install)")
        await topology.make_directory(s.staging_dir, mode=0o700, owner=None, group=None)
        archive = s.staging_dir / f"{s.ref.qualified.replace('/', '_').replace(':', '_')}.tar"
        await topology.write_file(
            archive, busybox_rootfs_tar(found.content, s.files), mode=0o600, owner=None, group=None
        )
        previous = await topology.inspect_image(s.ref)
        try:
            info = await topology.import_image(archive, s.ref, labels={CONTENT_LABEL: content_digest(s.files)})
        finally:
            await topology.remove_path(archive)
        if previous is not None and previous.id != info.id:
            await topology.remove_image_if_unused(previous.id)  # kept while a container still runs it
        return Outcome.success(f"imported {s.ref.qualified}", f"image id {info.id[:12]}")
