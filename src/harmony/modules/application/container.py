"""``Container``: one long-running container with exactly the given spec.

A local image (an ``ImageRef`` tag) is run by its digest, ``localhost/web@sha256:…``, resolved on the host
when planning (and again when applying): a tag rebuilt to other content is planned as the digest change,
and the container never runs whatever the tag names at some later moment. Not guaranteed: a tag rebuilt by
an earlier Score of the same run is seen by the next run (every plan is made before anything is applied);
an ``Application`` given the ``BusyboxImage`` Score itself follows it in the same run. The (resolved)
spec's digest is stored on the container (``io.harmony.spec``), so a changed spec plans an update (the
container is replaced: stopped with its grace period, then recreated) and an unchanged one is a NOOP.
A ``Secret`` in the environment enters the digest through its fingerprint (see ``Secret.fingerprint``): a
rotated secret replaces the container, and neither the label nor the plan holds the value.
A stopped container with the right spec is started again. A container of that name that Harmony did not
create makes the plan fail: Harmony never replaces someone else's container.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from pydantic import Field

from harmony.domain.capabilities.containers import (
    MANAGED_LABEL,
    ContainerInfo,
    ContainerRuntime,
    ContainerSpec,
    ImageRef,
)
from harmony.domain.change import Change
from harmony.domain.claims import Claim, ListenClaim, NameClaim, ResourceClaim
from harmony.domain.errors import ContainerError, ForeignContainerError, InterpretError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.secret import FINGERPRINT
from harmony.domain.units import Duration

SPEC_LABEL = "io.harmony.spec"


def spec_digest(spec: ContainerSpec) -> str:
    """A digest of everything that makes a container what it is (labels Harmony adds itself excluded)."""
    return hashlib.sha256(spec.model_dump_json(context=FINGERPRINT).encode()).hexdigest()[:16]


class Container(Score[ContainerRuntime]):
    """A container that runs ``spec``; ``after`` names Scores applied before it (a volume, a cache…)."""

    kind: Literal["container"] = "container"
    spec: ContainerSpec
    after: tuple[str, ...] = ()
    stop_grace: Duration = Field(default=timedelta(seconds=10), description="time between the stop signal and a kill")

    @property
    def name(self) -> str:
        return f"container:{self.spec.name}"

    def depends_on(self) -> Sequence[str]:
        return self.after

    def claims(self) -> Sequence[Claim]:
        claims: list[Claim] = [NameClaim("container name", self.spec.name, "spec.name")]
        for i, p in enumerate(self.spec.ports):
            if p.host is not None:
                what = f"container {self.spec.name} (port {p.container})"
                claims.append(ListenClaim(p.host_ip, p.host, p.protocol, what, f"spec.ports[{i}].host"))
        limits = self.spec.limits
        if limits.memory is not None or limits.cpus is not None:
            claims.append(ResourceClaim("", "spec.limits", cpus=limits.cpus, memory=limits.memory))
        return claims

    def interpret(self) -> Interpret[ContainerRuntime]:
        return ContainerInterpret(self)


def plan_container(
    score: Container, current: ContainerInfo | None, resolved: ContainerSpec | None = None
) -> list[Change]:
    """The changes from ``current`` to ``score``: a pure diff, tested as a table. ``resolved`` is the spec with
    its local image pinned by digest (default: the spec as given)."""
    spec = resolved or score.spec
    target = f"container {spec.name}"
    digest = spec_digest(spec)
    if current is None:
        unresolved = " (its digest is resolved when applied)" if isinstance(spec.image, ImageRef) else ""
        return [Change.create(target, f"run {spec.image}{unresolved} (spec {digest})\n")]
    if current.labels.get(MANAGED_LABEL) != "true":
        raise ForeignContainerError(spec.name)
    if current.labels.get(SPEC_LABEL) != digest:
        if current.image != spec.image:
            change = f"image {current.image} -> {spec.image}: replace\n"
        else:
            change = f"spec {current.labels.get(SPEC_LABEL)} -> {digest}: replace\n"
        return [Change.update(target, change)]
    if not current.running:
        return [Change.update(target, f"{current.state} -> running\n")]
    return []


class ContainerInterpret(Interpret[ContainerRuntime]):
    def __init__(self, score: Container) -> None:
        self.score = score

    async def _resolved(self, topology: ContainerRuntime) -> ContainerSpec:
        """The spec with a local image pinned to the digest it has on the host now (as given if absent)."""
        spec = self.score.spec
        if not isinstance(spec.image, ImageRef):
            return spec
        found = await topology.inspect_image(spec.image)
        return spec if found is None else spec.model_copy(update={"image": found.pinned(spec.image)})

    async def plan(self, topology: ContainerRuntime) -> Sequence[Change]:
        current, resolved = await asyncio.gather(
            topology.inspect_container(self.score.spec.name), self._resolved(topology)
        )
        return plan_container(self.score, current, resolved)

    async def apply(self, topology: ContainerRuntime, changes: Sequence[Change]) -> Outcome:
        spec = await self._resolved(topology)
        current = await topology.inspect_container(spec.name)
        if current is not None and current.labels.get(SPEC_LABEL) == spec_digest(spec):
            info = await topology.start_container(spec.name)
            return Outcome.success(f"started {spec.name}", *_ports(info))
        if current is not None:
            await topology.remove_container(spec.name, grace=self.score.stop_grace.total_seconds())
        try:
            info = await topology.run_container(
                spec.model_copy(update={"labels": {**spec.labels, SPEC_LABEL: spec_digest(spec)}})
            )
        except ForeignContainerError as e:
            raise InterpretError(self.score.name, "run", e) from e
        except ContainerError as e:  # the runtime's own words and the last log lines go into the Outcome
            return Outcome.failure(str(e), *e.evidence)
        return Outcome.success(f"running {spec.name} from {spec.image}", *_ports(info))


def _ports(info: ContainerInfo) -> tuple[str, ...]:
    return tuple(f"{p.host_ip}:{p.host} -> {p.container}/{p.protocol}" for p in info.ports)
