# fails: type check
"""A restart policy that does not exist."""

from __future__ import annotations

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef

spec = ContainerSpec(name=ContainerName("w"), image=ImageRef("localhost/w:1"), restart="on-failur")  # expect-error
