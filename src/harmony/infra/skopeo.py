"""``Skopeo``: reads what a registry holds for a tag (digest and labels) without pulling the image."""

from __future__ import annotations

import json
from typing import cast

from harmony.domain.capabilities.registry import RegistryLogin
from harmony.domain.errors import CommandError, ImageNotInRegistryError, RegistryError
from harmony.domain.image_refs import ImageDigest, TaggedImage
from harmony.infra.local_process import run_local
from harmony.infra.programs import SKOPEO
from harmony.infra.registry_login import login_files, registry_error


class Skopeo:
    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout

    async def image_labels(self, image: TaggedImage, login: RegistryLogin) -> tuple[ImageDigest, dict[str, str]] | None:
        """The manifest digest and the image's labels for ``image``, or ``None`` when the tag does not exist."""
        with login_files(login) as files:
            try:
                result = await run_local(
                    SKOPEO.argv("inspect", *files.options(), f"docker://{image}"), timeout=self.timeout
                )
            except CommandError as e:
                raise RegistryError(login.endpoint, f"skopeo inspect {image}: {e}") from e
        if not result.ok:
            error = registry_error(login.endpoint, f"inspect of {image} failed", result.stderr)
            if isinstance(error, ImageNotInRegistryError):
                return None
            raise error
        data = cast(dict[str, object], json.loads(result.stdout))
        labels = cast(dict[str, str], data.get("Labels") or {})
        return ImageDigest(str(data["Digest"])), dict(labels)
