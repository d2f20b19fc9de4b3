"""``ContainerRuntime``: images and containers on one host, without a registry.

Contract:
- Ownership: every container created through ``run_container`` carries the label ``MANAGED_LABEL=true``.
  ``list_containers`` returns only those; ``stop_container``, ``start_container`` and ``remove_container`` raise
  ``ForeignContainerError`` for any other container, and ``run_container`` refuses to reuse a foreign name.
  This is what lets Harmony adopt its own containers after a restart and never touch anyone else's.
- ``run_container`` returns once the container is running, or raises ``ContainerStartError`` with the
  runtime's own words (stderr, last log lines) and leaves nothing behind (the failed container is removed).
- ``stop_container`` sends the stop signal, waits ``grace`` seconds, then kills.
- Images come from the local store only: an unknown reference raises ``ImageNotFoundError``, never a pull.
  A ``PinnedImage`` is in the local store once a ``RegistryClient`` pulled it (see registry.py).
- Reads (``list_*``, ``inspect_*``, ``container_logs``) never change anything.
- Pods: a container whose spec names a ``pod`` joins that pod's network, and its ``ports`` are the pod's: the
  first container to join creates the pod (labelled ``MANAGED_POD_LABEL=true``: its infra container is not one
  of Harmony's containers) and publishes them; later ones find it as it is, ports included (so a pod is named
  after its ports). Joining a pod costs the runtime no network set-up, and the pod keeps its host ports from one
  container to the next. ``POD_LABEL`` on a container names its pod. A pod outlives its containers until
  ``remove_pod``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import PurePosixPath
from typing import Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from harmony.domain.errors import InvalidValueError
from harmony.domain.image_refs import ImageDigest, PinnedImage
from harmony.domain.secret import Secret
from harmony.domain.units import Bytes, Duration, MiB
from harmony.domain.values import (
    Port,
    ValidatedStr,
)

MANAGED_LABEL = "io.harmony.managed"
RESTART_LABEL = "io.harmony.restart"  # the restart policy, for the supervisor
POD_LABEL = "io.harmony.pod"  # the pod a container joined, if any
MANAGED_POD_LABEL = "io.harmony.managed-pod"

type RestartPolicy = Literal["no", "on-failure", "always"]
type NetworkMode = Literal["bridge", "host", "none"]
type ContainerState = Literal["created", "running", "paused", "exited", "stopped", "unknown"]

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE = re.compile(r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")


class _Checked(ValidatedStr):
    _pattern = re.compile(".*")

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        try:
            return value if cls._pattern.match(value) else None
        except TypeError:  # not a str, from an untyped caller
            return None


class ContainerName(_Checked):
    """A container name: a letter or digit, then letters, digits, ``_ . -``; 63 characters at most."""

    _what = "container name"
    _expected = "a letter or digit followed by letters, digits, '_', '.' or '-' (63 characters at most)"
    _pattern = _NAME


class EnvName(_Checked):
    """An environment variable name (``[A-Za-z_][A-Za-z0-9_]*``)."""

    _what = "environment variable name"
    _expected = "a letter or '_' followed by letters, digits or '_'"
    _pattern = _ENV


class ImageRef(_Checked):
    """A local image reference, ``localhost/web:1`` (lower-case path, optional tag)."""

    _what = "image reference"
    _expected = "a lower-case name with an optional ':tag', such as localhost/web:1"
    _pattern = _IMAGE

    @property
    def qualified(self) -> str:
        """The reference as the runtime stores it: ``web`` is ``localhost/web:latest``."""
        first = self.split("/", 1)[0]
        full = self if "/" in self and ("." in first or first == "localhost") else f"localhost/{self}"
        return full if ":" in full.rsplit("/", 1)[-1] else f"{full}:latest"

    def pinned(self, digest: ImageDigest) -> PinnedImage:
        """This local image by content: ``localhost/web@sha256:…`` (what a container is run from)."""
        repository, _, _ = self.qualified.rpartition(":")
        return PinnedImage(f"{repository}@{digest}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PortMapping(_Frozen):
    """Publish ``container`` on ``host_ip:host``; ``host=None`` lets the runtime pick a free host port."""

    container: Port
    host: Port | None = None
    host_ip: IPv4Address = IPv4Address("127.0.0.1")
    protocol: Literal["tcp", "udp"] = "tcp"


class VolumeMount(_Frozen):
    """Bind-mount the host directory or file ``source`` at ``target``; ``source`` must exist."""

    source: PurePosixPath
    target: PurePosixPath
    read_only: bool = False


class ContainerHealthCheck(_Frozen):
    """A command run inside the container; exit status 0 means healthy."""

    command: tuple[str, ...] = Field(min_length=1)
    interval: Duration = Field(default=timedelta(seconds=5), gt=timedelta(0))
    retries: int = Field(default=3, ge=1)


def _one_line_secrets(env: Mapping[EnvName, str | Secret]) -> Mapping[EnvName, str | Secret]:
    for name, value in env.items():
        if isinstance(value, Secret) and ("\n" in value.reveal() or "\0" in value.reveal()):
            raise InvalidValueError(
                f"env.{name}", value.masked, "a secret on one line (no newline or NUL: it goes into an env file)"
            )
    return env


type Environment = Annotated[Mapping[EnvName, str | Secret], AfterValidator(_one_line_secrets)]
"""A container's environment: a ``Secret`` value is masked in every dump and never on a command line."""


def secret_names(env: Mapping[EnvName, str | Secret]) -> list[EnvName]:
    """The variables whose value is a ``Secret``, sorted."""
    return sorted(k for k, v in env.items() if isinstance(v, Secret))


class ResourceLimits(_Frozen):
    memory: Bytes | None = Field(
        default=None, ge=MiB(6), description="memory limit, e.g. MiB(512) (podman needs at least 6 MiB)"
    )
    cpus: float | None = Field(default=None, gt=0, description="CPU share, e.g. 0.5")
    pids: int | None = Field(default=None, ge=1, description="maximum number of processes")


class ContainerSpec(_Frozen):
    """Everything needed to create one container. ``labels`` are added to Harmony's own ownership label."""

    name: ContainerName
    image: ImageRef | PinnedImage = Field(description="a local image, or one pulled by digest (never a tag)")
    command: tuple[str, ...] = ()
    env: Environment = Field(
        default_factory=dict[EnvName, str | Secret],
        description="variables; a Secret value is handed over in a private file, never on a command line",
    )
    ports: tuple[PortMapping, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    labels: Mapping[str, str] = Field(default_factory=dict[str, str])
    limits: ResourceLimits = ResourceLimits()
    health: ContainerHealthCheck | None = None
    restart: RestartPolicy = "on-failure"
    network: NetworkMode = "bridge"
    pod: ContainerName | None = Field(
        default=None, description="the pod to join (created with ``ports`` if missing), instead of ``network``"
    )
    init: bool = Field(default=True, description="run a tiny init as PID 1 so stop signals are honoured")


class PublishedPort(_Frozen):
    container: int
    host: int
    host_ip: str
    protocol: str


class ContainerSummary(_Frozen):
    """One container as the runtime's listing shows it: what runs, from which image, reached on which ports."""

    id: str
    name: str
    image: str
    image_id: str = ""
    state: ContainerState
    exit_code: int | None = None
    labels: Mapping[str, str] = Field(default_factory=dict[str, str])
    ports: tuple[PublishedPort, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def host_port(self, container_port: int) -> int | None:
        """The host port published for ``container_port``, if any."""
        return next((p.host for p in self.ports if p.container == container_port), None)


class ContainerInfo(ContainerSummary):
    """What the runtime reports about one container when asked about it: its summary, restarts and health check."""

    restarts: int = 0
    health_retries: int | None = Field(default=None, description="failed checks before unhealthy; None: no check")


class ImageInfo(_Frozen):
    id: str
    tags: tuple[str, ...] = ()
    labels: Mapping[str, str] = Field(default_factory=dict[str, str])
    digest: ImageDigest | None = Field(default=None, description="the manifest digest the runtime knows it by")

    def pinned(self, ref: ImageRef | PinnedImage) -> ImageRef | PinnedImage:
        """``ref`` by this image's digest when ``ref`` is a local tag and the digest is known, else ``ref``."""
        if isinstance(ref, PinnedImage) or self.digest is None:
            return ref
        return ref.pinned(self.digest)


class ContainerRuntime(Protocol):
    async def import_image(
        self, archive: PurePosixPath, ref: ImageRef, *, labels: Mapping[str, str] | None = None
    ) -> ImageInfo:
        """Create ``ref`` (with ``labels``) from a root filesystem tar on the host (no registry involved)."""
        ...

    async def build_image(self, context: PurePosixPath, ref: ImageRef) -> ImageInfo:
        """Build ``ref`` from a directory holding a ``Containerfile``, offline (base images must be local)."""
        ...

    async def load_image(self, archive: PurePosixPath) -> Sequence[ImageInfo]:
        """Load the images of an archive written by ``podman save`` / ``docker save``."""
        ...

    async def tag_image(self, image: ImageRef, ref: ImageRef) -> None: ...

    async def list_images(self) -> Sequence[ImageInfo]: ...

    async def inspect_image(self, ref: ImageRef | PinnedImage) -> ImageInfo | None: ...

    async def remove_image(self, ref: ImageRef) -> None: ...

    async def remove_image_if_unused(self, image_id: str) -> bool:
        """Remove the image ``image_id`` when no tag and no container refer to it; ``True`` if it was removed."""
        ...

    async def run_container(self, spec: ContainerSpec, *, settle: bool = True) -> ContainerInfo:
        """Create and start a container; running on return, or ``ContainerStartError`` and nothing left.
        ``settle``: wait a moment first, so that a process that dies right away fails here (a caller that keeps
        watching the container, like an application's smoke check, passes ``False`` and saves the wait)."""
        ...

    async def list_containers(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerInfo]:
        """Harmony's containers (running or not) having every label of ``labels``."""
        ...

    async def list_container_summaries(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerSummary]:
        """``list_containers`` without restarts and health checks: the listing alone, one runtime call fewer (a
        device's drift check of an application runs it every pass)."""
        ...

    async def inspect_container(self, name: str) -> ContainerInfo | None:
        """Any container of that name (Harmony's or not), or ``None``."""
        ...

    async def start_container(self, name: str) -> ContainerInfo: ...

    async def stop_container(self, name: str, *, grace: float = 10.0) -> None: ...

    async def remove_container(self, name: str, *, grace: float = 10.0, listed: ContainerSummary | None = None) -> None:
        """Stop (with ``grace``) and remove; a missing container is not an error.

        ``listed``: that container as a listing (``list_containers`` or ``list_container_summaries``) returned
        it. It is then removed by its id without being looked up again (one runtime call fewer); a container that
        took its name since is left alone."""
        ...

    async def list_pods(self) -> Sequence[str]:
        """The names of Harmony's pods."""
        ...

    async def remove_pod(self, name: str) -> None:
        """Remove Harmony's pod ``name`` and every container in it at once; a missing pod is not an error.
        ``ContainerError`` if the pod holds a container Harmony did not create (both are then left as they are)."""
        ...

    async def exec_in_container(self, name: str, argv: Sequence[str], *, timeout: float) -> tuple[int, str]:
        """Run ``argv`` inside a running container: (exit status, combined output)."""
        ...

    async def check_health(self, name: str) -> bool:
        """Run the container's health check once: ``True`` when it passed. ``ContainerError`` if it has none."""
        ...

    async def container_logs(self, name: str, *, tail: int = 50) -> Sequence[str]:
        """The last ``tail`` lines of the container's output (stdout and stderr)."""
        ...

    def follow_logs(self, name: str, *, tail: int = 0) -> AsyncIterator[str]:
        """The container's output, line by line, as it is written; stops when the container stops."""
        ...
