"""Fixed: environment variable names given as bare strings (they must be checked EnvName values)."""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, EnvName, ImageRef

spec = ContainerSpec(
    name=ContainerName("worker"),
    image=ImageRef("localhost/w:1"),
    env={EnvName("MY_VAR"): "1"},
)
