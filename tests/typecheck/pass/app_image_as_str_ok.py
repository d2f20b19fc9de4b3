"""Fixed: an image reference given as a bare string."""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef

spec = ContainerSpec(name=ContainerName("worker"), image=ImageRef("localhost/w:1"))
