# fails: type check
"""An image reference given as a bare string."""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec

spec = ContainerSpec(name=ContainerName("worker"), image="localhost/w:1")  # expect-error
