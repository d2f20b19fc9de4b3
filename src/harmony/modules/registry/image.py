"""``RegistryImage``: an image built offline from a Containerfile and files, pushed to the site registry.

The build never pulls (``FROM`` must name a local image: the busybox base of ``BusyboxImage``, or an
imported archive). The content digest of the Containerfile and files is baked in as the label
``io.harmony.content``; the plan reads the label of what the registry holds for the tag, so unchanged
content is a NOOP and changed content plans "build + push". The outcome names the digest pushed: hosts run
``<pull endpoint>/<path>@<digest>`` (``PinnedImage``), never the tag. Not detected: a changed base image
under an unchanged Containerfile (give the base a new tag).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Literal, Protocol

from pydantic import Field, field_validator

from harmony.domain.capabilities.containers import ContainerRuntime, ImageRef
from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.capabilities.registry import RegistryClient
from harmony.domain.change import Change
from harmony.domain.errors import ContainerError, InvalidValueError, RegistryError
from harmony.domain.image_refs import TaggedImage
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.modules.application.image import CONTENT_LABEL
from harmony.modules.application.rootfs import content_digest


class ImagePublisher(ContainerRuntime, ManagedFiles, RegistryClient, Protocol):
    """A build host: builds images, stages their files, pushes to a registry."""


class RegistryImage(Score[ImagePublisher]):
    """``destination`` (on the registry's push endpoint) built from ``containerfile`` and ``files``."""

    kind: Literal["registry_image"] = "registry_image"
    destination: TaggedImage
    containerfile: str = Field(description="FROM a local image, then COPY/ENV/CMD…; nothing is pulled")
    files: Mapping[str, str] = Field(default_factory=dict[str, str], description="build context: path -> text")
    staging_dir: PurePosixPath = PurePosixPath("/var/tmp/harmony-builds")
    after: tuple[str, ...] = ()

    @field_validator("containerfile")
    @classmethod
    def _from_first(cls, text: str) -> str:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
        if not first.upper().startswith("FROM "):
            raise InvalidValueError(
                "containerfile", first, "a Containerfile whose first instruction is FROM <local image>"
            )
        return text

    @field_validator("files")
    @classmethod
    def _relative(cls, files: Mapping[str, str]) -> Mapping[str, str]:
        for path in files:
            parts = PurePosixPath(path).parts
            if not parts or path.startswith("/") or ".." in parts or path == "Containerfile":
                raise InvalidValueError("files", path, "a relative path inside the build context (not Containerfile)")
        return files

    @property
    def name(self) -> str:
        return f"image:{self.destination}"

    def depends_on(self) -> Sequence[str]:
        return self.after

    def interpret(self) -> Interpret[ImagePublisher]:
        return RegistryImageInterpret(self)

    @property
    def content(self) -> str:
        return content_digest({"Containerfile": self.containerfile, **self.files})

    @property
    def local_ref(self) -> ImageRef:
        return ImageRef(f"localhost/harmony-build/{self.destination.repository.path}:{self.content}")


def plan_push(score: RegistryImage, held: tuple[str, Mapping[str, str]] | None) -> list[Change]:
    """``held``: the digest and labels the registry has for the tag (``None``: no such tag). A pure diff."""
    target = f"image {score.destination}"
    if held is None:
        return [Change.create(target, f"build (content {score.content}) and push\n")]
    digest, labels = held
    if labels.get(CONTENT_LABEL) != score.content:
        return [
            Change.update(
                target, f"content {labels.get(CONTENT_LABEL)} ({digest}) -> {score.content}: build and push\n"
            )
        ]
    return []


class RegistryImageInterpret(Interpret[ImagePublisher]):
    def __init__(self, score: RegistryImage) -> None:
        self.score = score

    async def plan(self, topology: ImagePublisher) -> Sequence[Change]:
        return plan_push(self.score, await topology.registry_image_labels(self.score.destination))

    async def apply(self, topology: ImagePublisher, changes: Sequence[Change]) -> Outcome:
        s = self.score
        context = s.staging_dir / s.content
        containerfile = f"{s.containerfile.rstrip()}\nLABEL {CONTENT_LABEL}={s.content}\n"
        await topology.make_directory(s.staging_dir, mode=0o700, owner=None, group=None)
        created: list[PurePosixPath] = [context]  # removed in reverse afterwards (files, then directories)
        await topology.make_directory(context, mode=0o700, owner=None, group=None)
        try:
            for path, text in sorted({"Containerfile": containerfile, **s.files}.items()):
                target = context / path
                for parent in reversed(target.relative_to(context).parents[:-1]):
                    if context / parent not in created:
                        await topology.make_directory(context / parent, mode=0o755, owner=None, group=None)
                        created.append(context / parent)
                await topology.write_file(target, text.encode(), mode=0o644, owner=None, group=None)
                created.append(target)
            try:
                await topology.build_image(context, s.local_ref)
                digest = await topology.push_image(s.local_ref, s.destination)
            except (ContainerError, RegistryError) as e:
                return Outcome.failure(f"{s.destination}: {e}")
        finally:
            for made in reversed(created):
                await topology.remove_path(made)
        return Outcome.success(
            f"pushed {s.destination} as {digest}",
            f"run it as {s.destination.repository.path}@{digest} on the registry's pull endpoint",
        )
