"""``Application``: a containerised service deployed blue-green, gated by its smoke check.

Each version (a digest of the container settings and the image's id) runs in its own container
``<app>-<version>`` labelled ``io.harmony.app``/``io.harmony.version``. An apply:
1. starts the new version beside the old one, on a fresh loopback port;
2. runs the smoke check against the new version only, until it passes or its timeout runs out —
   on failure the new container is removed, the old version keeps serving untouched, and the Outcome is
   FAILURE with the probe's last result and the container's last log lines;
3. switches the load balancer to it and publishes the DNS name (see ``exposure.py``), and only then
4. stops the old version (with ``stop_grace``, so in-flight requests finish) and removes it.
A second apply of the same version finds it serving and is a NOOP. Containers of other applications and
containers Harmony did not create are never looked at.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from pydantic import Field

from harmony.domain.capabilities.containers import (
    ContainerInfo,
    ContainerName,
    ContainerRuntime,
    ContainerSpec,
    EnvName,
    HealthCheck,
    ImageRef,
    PortMapping,
    ResourceLimits,
    RestartPolicy,
    VolumeMount,
)
from harmony.domain.capabilities.dns import DnsRecordSet
from harmony.domain.capabilities.edge import WebEdge
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.capabilities.probes import Prober
from harmony.domain.change import Change
from harmony.domain.errors import ContainerError, DnsError, LoadBalancerError
from harmony.domain.interpret import Interpret
from harmony.domain.names import ResourceName
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.values import IPv4Address, Port
from harmony.modules.application.exposure import Exposure, backend_for, frontend_for, plan_exposure, record_set_for
from harmony.modules.application.image import BusyboxImage
from harmony.modules.application.rootfs import content_digest
from harmony.modules.application.smoke import Check, Target, wait_for

APP_LABEL = "io.harmony.app"
VERSION_LABEL = "io.harmony.version"
LOOPBACK = IPv4Address("127.0.0.1")


class AppHost(ContainerRuntime, Prober, WebEdge, Protocol):
    """What an application needs: a container runtime, a way to probe it, a load balancer and DNS."""


class Application(Score[AppHost]):
    """The service ``app``: ``image`` running ``command``, serving on container port ``port``."""

    kind: Literal["application"] = "application"
    app: ResourceName
    image: ImageRef | BusyboxImage = Field(
        description="an image in the local store, or the Score that builds it (then applied before this one)"
    )
    port: Port = Field(description="the port the application listens on inside its container")
    expose: Exposure
    smoke: Check
    command: tuple[str, ...] = ()
    env: Mapping[EnvName, str] = Field(default_factory=dict[EnvName, str])
    volumes: tuple[VolumeMount, ...] = ()
    limits: ResourceLimits = ResourceLimits()
    health: HealthCheck | None = None
    restart: RestartPolicy = "on-failure"
    stop_grace: float = Field(default=5.0, ge=0, description="seconds old versions get to finish requests")
    after: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"app:{self.app}"

    @property
    def url(self) -> str:
        """Where users reach the application (through DNS and the load balancer)."""
        return self.expose.url

    def depends_on(self) -> Sequence[str]:
        built = (self.image.name,) if isinstance(self.image, BusyboxImage) else ()
        return (*built, *self.after)

    @property
    def image_ref(self) -> ImageRef:
        return self.image.ref if isinstance(self.image, BusyboxImage) else self.image

    def interpret(self) -> Interpret[AppHost]:
        return ApplicationInterpret(self)

    def version(self, image_id: str | None) -> str:
        """The version a deploy would run: the container settings plus the image's content.

        For an image built by a ``BusyboxImage`` Score the content is what that Score declares, so a plan
        made before the image is rebuilt in the same run already sees the new version; for an image from
        the store it is the image id found when planning.
        """
        settings = self.model_dump(mode="json", include={"port", "command", "env", "volumes", "limits", "health"})
        content = content_digest(self.image.files) if isinstance(self.image, BusyboxImage) else image_id
        blob = json.dumps({"settings": settings, "image": self.image_ref, "content": content}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def container_spec(self, version: str) -> ContainerSpec:
        return ContainerSpec(
            name=ContainerName(f"{self.app}-{version}"),
            image=self.image_ref,
            command=self.command,
            env=self.env,
            ports=(PortMapping(container=self.port, host_ip=LOOPBACK),),
            volumes=self.volumes,
            labels={APP_LABEL: self.app, VERSION_LABEL: version},
            limits=self.limits,
            health=self.health,
            restart=self.restart,
        )


def plan_application(
    app: Application,
    version: str,
    containers: Sequence[ContainerInfo],
    frontends: Sequence[Frontend],
    record_sets: Sequence[DnsRecordSet],
) -> list[Change]:
    """The changes from what runs now to ``version`` serving alone behind the load balancer: a pure diff."""
    target = f"application {app.app}"
    serving = next((c for c in containers if c.labels.get(VERSION_LABEL) == version and c.running), None)
    others = sorted(c.name for c in containers if c is not serving)
    port = None if serving is None else serving.host_port(app.port)
    backend = None if serving is None or port is None else backend_for(serving.name, port)
    changes: list[Change] = []
    if backend is None:
        old = sorted({c.labels.get(VERSION_LABEL, "?") for c in containers if c.running})
        diff = f"version {', '.join(old) or 'none'} -> {version}\nimage {app.image_ref}\nsmoke check {app.smoke.kind}\n"
        changes.append(Change.update(target, diff) if old else Change.create(target, diff))
    changes += plan_exposure(app.app, app.expose, backend, frontends, record_sets)
    changes += [Change.delete(f"container {name}", "old version, stopped after the switch\n") for name in others]
    return changes


class ApplicationInterpret(Interpret[AppHost]):
    def __init__(self, score: Application) -> None:
        self.score = score

    async def _version(self, host: AppHost) -> str:
        if isinstance(self.score.image, BusyboxImage):
            return self.score.version(None)
        image = await host.inspect_image(self.score.image)
        return self.score.version(None if image is None else image.id)

    async def plan(self, topology: AppHost) -> Sequence[Change]:
        containers = await topology.list_containers({APP_LABEL: self.score.app})
        version = await self._version(topology)
        frontends = await topology.frontends()
        record_sets = await topology.dns_record_sets()
        return plan_application(self.score, version, containers, frontends, record_sets)

    async def apply(self, topology: AppHost, changes: Sequence[Change]) -> Outcome:
        app = self.score
        version = await self._version(topology)
        containers = await topology.list_containers({APP_LABEL: app.app})
        current = next((c for c in containers if c.labels.get(VERSION_LABEL) == version and c.running), None)
        started = current is None
        if current is None:
            candidate = await self._start_candidate(topology, version)
            if isinstance(candidate, Outcome):
                return candidate
            current = candidate
        port = current.host_port(app.port)
        assert port is not None, "the runtime published the application port"
        try:
            await self._switch(topology, backend_for(current.name, port))
        except (LoadBalancerError, DnsError) as e:
            if started:  # traffic never reached it: take it away again, the old version keeps serving
                await topology.remove_container(current.name, grace=0)
            return Outcome.failure(f"{app.app}: switching traffic to {current.name} failed: {e}")
        old = [c for c in containers if c.name != current.name]
        for c in old:
            await topology.remove_container(c.name, grace=app.stop_grace)
        return Outcome.success(
            f"{app.app} version {version} serving at {app.url} ({app.expose.address}:{app.expose.port})",
            f"container {current.name} on 127.0.0.1:{port}",
            *(f"stopped old version {c.name}" for c in old),
        )

    async def _switch(self, host: AppHost, backend: Backend) -> None:
        """Frontend with ``backend`` only (added first, old ones drained then removed), and the DNS name."""
        app = self.score
        wanted = frontend_for(app.app, app.expose, backend)
        current = next((f for f in await host.frontends() if f.name == app.app), None)
        if current is None:
            await host.put_frontend(wanted)
        elif current != wanted:
            if current.backend(backend.name) != backend:
                await host.add_backend(app.app, backend)
            for old in current.backends:
                if old.name != backend.name:
                    await host.remove_backend(app.app, old.name, grace=app.stop_grace)
            now = next((f for f in await host.frontends() if f.name == app.app), None)
            if now != wanted:
                await host.put_frontend(wanted)
        record_set = record_set_for(app.app, app.expose)
        if record_set.sorted() not in [s.sorted() for s in await host.dns_record_sets() if s.owner == app.app]:
            await host.put_dns_record_set(record_set)

    async def _start_candidate(self, host: AppHost, version: str) -> ContainerInfo | Outcome:
        """The new version running and smoke-tested, or a FAILURE Outcome with nothing of it left."""
        app = self.score
        spec = app.container_spec(version)
        await host.remove_container(spec.name, grace=0)  # a leftover of an interrupted apply
        try:
            info = await host.run_container(spec)
        except ContainerError as e:
            return Outcome.failure(f"{app.app} version {version} did not start: {e}", *e.evidence)
        port = info.host_port(app.port)
        if port is None:
            await host.remove_container(spec.name, grace=0)
            return Outcome.failure(f"{app.app}: the runtime published no host port for {app.port}")
        target = Target(address=LOOPBACK, port=Port(port), container=spec.name, host=str(app.expose.hostname))
        result = await wait_for(app.smoke, target, prober=host, runtime=host)
        if not result.ok:
            logs = await host.container_logs(spec.name, tail=20)
            await host.remove_container(spec.name, grace=0)
            return Outcome.failure(
                f"{app.app} version {version} failed its smoke check within {app.smoke.timeout}s; "
                "the previous version keeps serving",
                f"probe: {result.detail}",
                *([f"body: {result.body[:300]!r}"] if result.body else []),
                "last log lines:",
                *(f"  {line}" for line in logs),
            )
        return info
