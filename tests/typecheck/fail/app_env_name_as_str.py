# fails: type check
"""Environment variable names given as bare strings (they must be checked EnvName values)."""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef

spec = ContainerSpec(
    name=ContainerName("worker"),
    image=ImageRef("localhost/w:1"),
    env={"MY-VAR": "1"},  # expect-error
)
