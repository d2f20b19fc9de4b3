"""Image references in a registry, as types, so that a tag can never reach a host where a digest is required.

- ``RepositoryRef``  ``10.0.0.5:5000/apps/web`` — where an image lives in a registry;
- ``TaggedImage``    ``10.0.0.5:5001/apps/web:1`` — what a build host pushes to (a tag moves);
- ``PinnedImage``    ``10.0.0.5:5000/apps/web@sha256:<64 hex>`` — what hosts and devices pull and run.

A local image (built or imported on the host itself, never pulled) is an ``ImageRef`` (containers.py).
"""

from __future__ import annotations

import re

from harmony.domain.values import ValidatedStr

_HOST = r"(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:]+\])(?::[0-9]{1,5})?"
_PATH = r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_REPOSITORY = re.compile(rf"^(?P<registry>{_HOST})/(?P<path>{_PATH})$")
_TAGGED = re.compile(rf"^(?P<repository>{_HOST}/{_PATH}):(?P<tag>{_TAG})$")
_PINNED = re.compile(rf"^(?P<repository>{_HOST}/{_PATH})@(?P<digest>sha256:[0-9a-f]{{64}})$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _is_registry(host: str) -> bool:
    """A first path component names a registry when it has a dot or a port, or is ``localhost``."""
    return "." in host or ":" in host or host == "localhost"


class ImageDigest(ValidatedStr):
    """A content digest: ``sha256:`` and 64 lower-case hex digits."""

    _what = "image digest"
    _expected = "'sha256:' followed by 64 lower-case hex digits"

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        return value if _DIGEST.match(value) else None


class RepositoryRef(ValidatedStr):
    """An image repository in a registry: ``registry[:port]/path``."""

    _what = "image repository"
    _expected = "a registry host (with a dot or a port) and a lower-case path, such as 10.0.0.5:5000/apps/web"

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        m = _REPOSITORY.match(value)
        return value if m and _is_registry(m["registry"]) else None

    @property
    def registry(self) -> str:
        return self.split("/", 1)[0]

    @property
    def path(self) -> str:
        return self.split("/", 1)[1]

    def at(self, registry: str) -> RepositoryRef:
        """The same path on another endpoint (the push endpoint's image, pulled from the pull endpoint)."""
        return RepositoryRef(f"{registry}/{self.path}")

    def tagged(self, tag: str) -> TaggedImage:
        return TaggedImage(f"{self}:{tag}")

    def pinned(self, digest: ImageDigest) -> PinnedImage:
        return PinnedImage(f"{self}@{digest}")


class TaggedImage(ValidatedStr):
    """A registry image by tag, ``registry[:port]/path:tag``: what is pushed; never what a host runs."""

    _what = "tagged image"
    _expected = "registry[:port]/path:tag, such as 10.0.0.5:5001/apps/web:1"

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        m = _TAGGED.match(value)
        return value if m and _is_registry(m["repository"].split("/", 1)[0]) else None

    @property
    def repository(self) -> RepositoryRef:
        return RepositoryRef(self.rsplit(":", 1)[0])

    @property
    def tag(self) -> str:
        return self.rsplit(":", 1)[1]


class PinnedImage(ValidatedStr):
    """A registry image by digest, ``registry[:port]/path@sha256:…``: the only form a host pulls and runs."""

    _what = "pinned image"
    _expected = "registry[:port]/path@sha256:<64 hex digits>, such as 10.0.0.5:5000/apps/web@sha256:4f…"

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        m = _PINNED.match(value)
        return value if m and _is_registry(m["repository"].split("/", 1)[0]) else None

    @property
    def repository(self) -> RepositoryRef:
        return RepositoryRef(self.split("@", 1)[0])

    @property
    def digest(self) -> ImageDigest:
        return ImageDigest(self.split("@", 1)[1])

    @property
    def registry(self) -> str:
        return self.repository.registry

    @property
    def qualified(self) -> str:
        """As the runtime names it: a pinned reference is already complete."""
        return str(self)
