"""``Application``: a containerised service deployed blue-green, gated by its smoke check.

Each version (a digest of the container settings and the image's content) runs in its own container
``<app>-<version>`` labelled ``io.harmony.app``/``io.harmony.version``. An apply:
1. starts the new version beside the old one, in the other of two pods per replica (``<app>-a<n>-<port>`` and
   ``<app>-b<n>-<port>``, see ``pod_names``): versions take turns in them. A pod keeps its network and its
   loopback port from one version to the next, so a start costs the runtime no network set-up (``podman run``
   takes a third of the time it takes with a port of its own); the first start in a pod creates it;
2. runs the smoke check against the new version only, until it passes or its timeout runs out —
   on failure the new container is removed, the old version keeps serving untouched, and the Outcome is
   FAILURE with the probe's last result and the container's last log lines;
3. switches the load balancer to it and publishes the DNS name (see ``exposure.py``), and only then
4. stops the old version (with ``stop_grace``, so in-flight requests finish) and removes it. Whoever set
   ``ON_SERVING`` (the device agent) is told before this step that the new version serves; whoever set
   ``KEEP_PREVIOUS`` (the device agent's scale-down delay) has this step left for a later run.
A second apply of the same version finds it serving and is a NOOP. A ``Secret`` in ``env`` enters the version
through its fingerprint: a rotated secret is a new version (deployed blue-green like any other), and the value
appears in no plan, label or container name. Containers of other applications and
containers Harmony did not create are never looked at.
After the switch, the images only the old version ran are removed once untagged (a rebuilt tag).
An image from the site registry is a ``PinnedImage`` (``registry/path@sha256:…``, never a tag): the apply pulls
it by digest with the host's own login (while it reads what runs) before anything starts (a failed pull is a
FAILURE saying "image pull failed: …" and changes nothing), and after the switch keeps the newest
``keep_images`` pulled versions of its repository (the one now serving and the previous one, by default),
removing older ones.
Not guaranteed: two applies of the same application at the same time (nothing locks an application).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from contextvars import ContextVar
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import Field, field_validator

from harmony.domain.capabilities.containers import (
    POD_LABEL,
    ContainerHealthCheck,
    ContainerInfo,
    ContainerName,
    ContainerRuntime,
    ContainerSpec,
    ContainerSummary,
    Environment,
    EnvName,
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
from harmony.domain.capabilities.registry import RegistryClient
from harmony.domain.change import Change
from harmony.domain.claims import Claim, DnsRecordClaim, ListenClaim, NameClaim, ResourceClaim
from harmony.domain.errors import ContainerError, DnsError, InvalidValueError, LoadBalancerError, RegistryError
from harmony.domain.image_refs import PinnedImage
from harmony.domain.interpret import Interpret
from harmony.domain.names import NonEmpty, ResourceName, non_empty
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.secret import FINGERPRINT, Secret
from harmony.domain.units import Duration, MiB
from harmony.domain.values import IPv4Address, Port
from harmony.modules.application.exposure import Exposure, backend_for, frontend_for, plan_exposure, record_set_for
from harmony.modules.application.image import BusyboxImage
from harmony.modules.application.rootfs import content_digest
from harmony.modules.application.smoke import Check, Target, wait_for

APP_LABEL = "io.harmony.app"
VERSION_LABEL = "io.harmony.version"
LOOPBACK = IPv4Address("127.0.0.1")
MAX_APP_NAME = 50  # container names are at most 63 characters: "<app>-<10-character version>-<replica>"
SLOTS = ("a", "b")  # the two pods of each replica, which versions take turns in


ON_SERVING: ContextVar[Callable[[str], Awaitable[None]] | None] = ContextVar("harmony_on_serving", default=None)
"""Told (a message) the moment a new version has the traffic and an old one is still to be stopped: the device
agent reports the new version serving then, so a rollout waits for devices to serve, not for their clean-up."""

KEEP_PREVIOUS: ContextVar[float] = ContextVar("harmony_keep_previous", default=0.0)
"""Seconds a replaced version keeps running after the switch (the device agent's scale-down delay; 0: stopped at
once). While it is set, plans and applies leave the old version, its pods and its images alone, so a rollback
within it is a load-balancer switch with nothing to start; the agent converges again when it is over, and that
run stops them."""


class AppHost(ContainerRuntime, RegistryClient, Prober, WebEdge, Protocol):
    """What an application needs: a container runtime that can pull from the site registry, a way to probe it,
    a load balancer and DNS."""


class Application(Score[AppHost]):
    """The service ``app``: ``image`` running ``command``, serving on container port ``port``."""

    kind: Literal["application"] = "application"
    app: ResourceName
    image: BusyboxImage | ImageRef | PinnedImage = Field(
        description="an image in the local store, the Score that builds it (then applied before this one), or an "
        "image in the site registry by digest (pulled by the apply)"
    )
    port: Port = Field(description="the port the application listens on inside its container")
    replicas: int = Field(default=1, ge=1, le=9, description="containers per version, all behind the load balancer")
    expose: Exposure
    smoke: Check
    command: tuple[str, ...] = ()
    env: Environment = Field(
        default_factory=dict[EnvName, str | Secret],
        description="variables; a Secret value is masked in plans and the journal and changes the version",
    )
    volumes: tuple[VolumeMount, ...] = ()
    limits: ResourceLimits = ResourceLimits()
    health: ContainerHealthCheck | None = None
    restart: RestartPolicy = "on-failure"
    stop_grace: Duration = Field(
        default=timedelta(seconds=5), description="how long old versions get to finish requests"
    )
    keep_images: int = Field(
        default=2,
        ge=1,
        le=50,
        description="pulled versions of a registry image kept on the host, the serving one included",
    )
    after: tuple[str, ...] = ()

    @field_validator("app")
    @classmethod
    def _room_for_the_version(cls, app: ResourceName) -> ResourceName:
        if len(app) > MAX_APP_NAME:
            raise InvalidValueError("app", app, f"at most {MAX_APP_NAME} characters (containers are <app>-<version>)")
        return app

    @property
    def name(self) -> str:
        return f"app:{self.app}"

    def claims(self) -> Sequence[Claim]:
        """Its frontend and DNS owner (both named after ``app``), its public name and port, its A record, and
        the limits of its ``replicas`` containers (those of one version: during a switch both run briefly)."""
        e = self.expose
        claims: list[Claim] = [
            NameClaim("frontend name", self.app, "app"),
            NameClaim("DNS owner", self.app, "app"),
            NameClaim("exposed hostname", str(e.hostname), "expose.hostname"),
            ListenClaim(e.address, e.port, "tcp", f"application {self.app}", "expose.port"),
            DnsRecordClaim(str(e.hostname), "A", self.app, "expose.hostname"),
        ]
        limits, n = self.limits, self.replicas
        if limits.memory is not None or limits.cpus is not None:
            claims.append(
                ResourceClaim(
                    f"{n} replicas" if n > 1 else "1 replica",
                    "limits",
                    cpus=None if limits.cpus is None else limits.cpus * n,
                    memory=None if limits.memory is None else limits.memory * n,
                )
            )
        return claims

    @property
    def url(self) -> str:
        """Where users reach the application (through DNS and the load balancer)."""
        return self.expose.url

    def depends_on(self) -> Sequence[str]:
        built = (self.image.name,) if isinstance(self.image, BusyboxImage) else ()
        return (*built, *self.after)

    @property
    def image_ref(self) -> ImageRef | PinnedImage:
        return self.image.ref if isinstance(self.image, BusyboxImage) else self.image

    def interpret(self) -> Interpret[AppHost]:
        return ApplicationInterpret(self)

    def version(self, image_id: str | None) -> str:
        """The version a deploy would run: the container settings plus the image's content.

        For an image built by a ``BusyboxImage`` Score the content is what that Score declares, so a plan
        made before the image is rebuilt in the same run already sees the new version; for an image from
        the store it is the image id found when planning.
        """
        settings = self.model_dump(
            mode="json",
            include={"port", "replicas", "command", "env", "volumes", "limits", "health", "restart"},
            context=FINGERPRINT,  # a rotated secret is a new version
        )
        settings.update(_settings_as_before_units(self.limits, self.health))
        content = (
            content_digest(self.image.files)
            if isinstance(self.image, BusyboxImage)
            else self.image.digest
            if isinstance(self.image, PinnedImage)
            else image_id
        )
        blob = json.dumps({"settings": settings, "image": self.image_ref, "content": content}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def container_names(self, version: str) -> list[str]:
        return [f"{self.app}-{version}-{replica}" for replica in range(1, self.replicas + 1)]

    def pod_names(self, replica: int) -> tuple[ContainerName, ...]:
        """The two pods of ``replica``, named after the port they publish (a new port is new pods)."""
        return tuple(ContainerName(f"{self.app}-{slot}{replica}-{self.port}") for slot in SLOTS)

    def owns_pod(self, name: str) -> bool:
        """``name`` is one of this application's pods, for any replica and port."""
        return re.fullmatch(rf"{re.escape(self.app)}-[{''.join(SLOTS)}][1-9]-[0-9]+", name) is not None

    def container_spec(
        self,
        version: str,
        replica: int = 1,
        image: ImageRef | PinnedImage | None = None,
        pod: ContainerName | None = None,
    ) -> ContainerSpec:
        """The container of ``replica``, run from ``image`` (the local image pinned by digest) or ``image_ref``,
        in ``pod`` (or with a network of its own)."""
        return ContainerSpec(
            name=ContainerName(f"{self.app}-{version}-{replica}"),
            image=image or self.image_ref,
            command=self.command,
            env=self.env,
            ports=(PortMapping(container=self.port, host_ip=LOOPBACK),),
            volumes=self.volumes,
            labels={APP_LABEL: self.app, VERSION_LABEL: version},
            limits=self.limits,
            health=self.health,
            restart=self.restart,
            pod=pod,
        )


def _settings_as_before_units(limits: ResourceLimits, health: ContainerHealthCheck | None) -> dict[str, object]:
    """``limits`` and ``health`` in the JSON form they had when sizes and durations were plain numbers (MiB,
    seconds), so that the versions of applications deployed then stay the same and an upgrade redeploys
    nothing."""
    memory = limits.memory
    settings: dict[str, object] = {
        "limits": {
            "memory_mib": None if memory is None else memory // MiB(1) if memory % MiB(1) == 0 else memory / MiB(1),
            "cpus": limits.cpus,
            "pids": limits.pids,
        }
    }
    if health is not None:
        settings["health"] = {
            "command": list(health.command),
            "interval": health.interval.total_seconds(),
            "retries": health.retries,
        }
    return settings


def plan_application(
    app: Application,
    version: str,
    containers: Sequence[ContainerSummary],
    frontends: Sequence[Frontend],
    record_sets: Sequence[DnsRecordSet],
    image: ImageRef | PinnedImage | None = None,
    *,
    keep_previous: bool = False,
) -> list[Change]:
    """The changes from what runs now to ``version`` serving alone behind the load balancer: a pure diff.

    ``image`` is what the new containers run (a local image pinned by digest), default ``app.image_ref``;
    ``keep_previous``: the other containers stay (see ``KEEP_PREVIOUS``)."""
    desired = image or app.image_ref
    target = f"application {app.app}"
    wanted = app.container_names(version)
    serving = sorted((c for c in containers if c.name in wanted and c.running), key=lambda c: c.name)
    others = sorted(c.name for c in containers if c not in serving)
    backends = serving_backends(app, serving) if len(serving) == len(wanted) else None
    changes: list[Change] = []
    if backends is None:
        old = sorted({c.labels.get(VERSION_LABEL, "?") for c in containers if c.running})
        old_images = sorted({c.image for c in containers if c.running and c.image != desired})
        shown = f"image {', '.join(old_images)} -> {desired}" if old_images else f"image {desired}"
        diff = (
            f"version {', '.join(old) or 'none'} -> {version} ({app.replicas} container(s))\n"
            f"{shown}\nsmoke check {app.smoke.kind}\n"
        )
        changes.append(Change.update(target, diff) if old else Change.create(target, diff))
    changes += plan_exposure(app.app, app.expose, backends, frontends, record_sets)
    if not keep_previous:
        changes += [Change.delete(f"container {name}", "old version, stopped after the switch\n") for name in others]
    return changes


async def _pull(host: AppHost, image: BusyboxImage | ImageRef | PinnedImage) -> RegistryError | None:
    """``image`` in the host's store if it comes from the registry; why not, if the pull failed."""
    if not isinstance(image, PinnedImage):
        return None
    try:
        await host.pull_image(image)
    except RegistryError as e:
        return e
    return None


def free_pod(
    pods: Sequence[ContainerName], containers: Sequence[ContainerSummary], in_load_balancer: AbstractSet[str]
) -> ContainerName | None:
    """The pod of ``pods`` a new container joins: one no container behind the load balancer is in, preferably
    one nothing runs in. ``None`` when both serve (an interrupted switch left two versions in the load
    balancer): the new container then gets a network of its own."""
    serving = {_pod(c) for c in containers if c.name in in_load_balancer}
    busy = {_pod(c) for c in containers if c.running}
    free = [p for p in pods if p not in serving]
    return next((p for p in free if p not in busy), free[0] if free else None)


def _pod(container: ContainerSummary) -> ContainerName | None:
    pod = container.labels.get(POD_LABEL)
    return None if pod is None else ContainerName(pod)


def serving_backends(app: Application, containers: Sequence[ContainerSummary]) -> NonEmpty[Backend] | None:
    """One load-balancer backend per container, on its published loopback port (``None`` if there are none)."""
    backends: list[Backend] = []
    for c in containers:
        port = c.host_port(app.port)
        if port is None:
            return None
        backends.append(backend_for(c.name, port))
    return non_empty(backends, "backends") if backends else None


class ApplicationInterpret(Interpret[AppHost]):
    def __init__(self, score: Application) -> None:
        self.score = score

    async def _resolve(self, host: AppHost, *, applying: bool) -> tuple[str, ImageRef | PinnedImage]:
        """The version to run, and the image its containers run: a local image pinned to its digest on the host.

        An image a ``BusyboxImage`` Score of this run builds is pinned only when applying (when planning,
        it may not be built yet; its version comes from what that Score declares)."""
        image = self.score.image
        if isinstance(image, PinnedImage):
            return self.score.version(None), image
        if isinstance(image, BusyboxImage) and not applying:
            return self.score.version(None), image.ref
        ref = image.ref if isinstance(image, BusyboxImage) else image
        found = await host.inspect_image(ref)
        version = self.score.version(None if found is None or isinstance(image, BusyboxImage) else found.id)
        return version, ref if found is None else found.pinned(ref)

    async def plan(self, topology: AppHost) -> Sequence[Change]:
        # All at once: on a remote host the four reads cost one round trip instead of four in a row.
        containers, (version, image), frontends, record_sets = await asyncio.gather(
            topology.list_container_summaries({APP_LABEL: self.score.app}),
            self._resolve(topology, applying=False),
            topology.frontends(),
            topology.dns_record_sets(),
        )
        keep = KEEP_PREVIOUS.get() > 0
        return plan_application(self.score, version, containers, frontends, record_sets, image, keep_previous=keep)

    async def apply(self, topology: AppHost, changes: Sequence[Change]) -> Outcome:
        app = self.score
        # The pull (of a registry image not in the store yet) goes with the reads: a version whose containers
        # all run already has its image, which the pull then only looks at.
        (version, image), containers, frontends, pull_error = await asyncio.gather(
            self._resolve(topology, applying=True),
            topology.list_container_summaries({APP_LABEL: app.app}),
            topology.frontends(),
            _pull(topology, app.image),
        )
        running = {c.name: c for c in containers if c.running}
        frontend = next((f for f in frontends if f.name == app.app), None)
        in_load_balancer = {b.name for b in frontend.backends} if frontend else set[str]()
        if pull_error is not None and not all(n in running for n in app.container_names(version)):
            return Outcome.failure(
                f"{app.app}: image pull failed: {pull_error}; the previous version keeps serving", *pull_error.evidence
            )
        ready: list[ContainerSummary] = []
        fresh: list[str] = []  # containers not taking traffic yet: removed again if anything fails
        for replica, name in enumerate(app.container_names(version), start=1):
            info = running.get(name)
            if info is None:
                pod = free_pod(app.pod_names(replica), containers, in_load_balancer)
                spec = app.container_spec(version, replica, image, pod)
                in_the_way = [c for c in containers if c.name == name or (c.running and pod and _pod(c) == pod)]
                started = await self._start(topology, spec, version, in_the_way=in_the_way)
                if isinstance(started, Outcome):
                    await self._remove(topology, fresh)
                    return started
                info = started
            # A container already behind the load balancer passed its smoke check then; any other one (new,
            # or left running by an interrupted apply) must pass it now, before it gets traffic.
            if name not in in_load_balancer:
                fresh.append(name)
                failed = await self._smoke_test(topology, info, version)
                if failed is not None:
                    await self._remove(topology, fresh)
                    return failed
            ready.append(info)
        backends = serving_backends(app, ready)
        assert backends is not None, "every started container publishes the application port"
        try:
            await self._switch(topology, backends)
        except (LoadBalancerError, DnsError) as e:
            now = next((f for f in await topology.frontends() if f.name == app.app), None)
            await self._remove(topology, [n for n in fresh if now is None or now.backend(n) is None])
            if now is None:
                await topology.remove_dns_record_set(app.app)  # a name for nothing: a first deploy that failed
            return Outcome.failure(f"{app.app}: switching traffic to version {version} failed: {e}")
        kept = {c.name for c in ready}
        old = [c for c in containers if c.name not in kept]
        if old and (keep := KEEP_PREVIOUS.get()) > 0:
            return Outcome.success(
                f"{self._serving_at(version)}; the previous version keeps running {round(keep, 1):g}s "
                "(a rollback then is a switch)",
                *(f"container {b.name} on {b.address}:{b.port}" for b in backends),
                *(f"kept running: {c.name}" for c in old if c.running),
            )
        if old and fresh and (serving := ON_SERVING.get()) is not None:  # news only if this run switched
            await serving(f"{self._serving_at(version)}; stopping the previous version")
        stuck: list[str] = []
        for c in old:  # as listed above: removed by id, without looking each up again
            try:
                await topology.remove_container(c.name, grace=app.stop_grace.total_seconds(), listed=c)
            except ContainerError as e:
                stuck.append(f"{c.name}: {e}")
        pods = {p for r in range(1, app.replicas + 1) for p in app.pod_names(r)} | {_pod(c) for c in ready}
        if any(p not in pods for c in old if (p := _pod(c)) is not None):
            # A new port, or fewer replicas: the pods of before are done with, the ones emptied earlier too.
            for done in await topology.list_pods():
                if app.owns_pod(done) and done not in pods:
                    try:
                        await topology.remove_pod(done)
                    except ContainerError as e:
                        stuck.append(f"pod {done}: {e}")
        if stuck:
            return Outcome.failure(
                f"{self._serving_at(version)}, but the previous version could not be stopped; fix what the runtime "
                "says below, and the next run stops it",
                *stuck,
            )
        if isinstance(app.image, PinnedImage):
            pruned = await self._prune(topology, app.image)
        else:
            pruned = []
            # The images only old versions ran, once nothing uses them and a rebuilt tag no longer names them.
            for image_id in {c.image_id for c in old if c.image_id} - {c.image_id for c in ready}:
                await topology.remove_image_if_unused(image_id)
        return Outcome.success(
            self._serving_at(version),
            *(f"container {b.name} on {b.address}:{b.port}" for b in backends),
            f"try: curl --resolve {app.expose.hostname}:{app.expose.port}:{app.expose.address} {app.url}",
            *(f"stopped old version {c.name}" for c in old),
            *(f"removed old image {p}" for p in pruned),
        )

    def _serving_at(self, version: str) -> str:
        app = self.score
        return f"{app.app} version {version} serving at {app.url} ({app.expose.address}:{app.expose.port})"

    async def _prune(self, host: AppHost, serving: PinnedImage) -> list[str]:
        """Keep the serving image and the newest others up to ``keep_images``; remove the rest if unused."""
        pulled = await host.local_image_digests(serving.repository)
        others = [(digest, info) for digest, info in pulled if digest != serving.digest]
        removed: list[str] = []
        for digest, info in others[self.score.keep_images - 1 :]:
            if await host.remove_image_if_unused(info.id):
                removed.append(f"{serving.repository}@{digest}")
        return removed

    async def _remove(self, host: AppHost, names: Sequence[str]) -> None:
        for name in names:
            await host.remove_container(name, grace=0)

    async def _switch(self, host: AppHost, backends: NonEmpty[Backend]) -> None:
        """The DNS name first (it names the load balancer, not a version), then the frontend with ``backends``
        only: the new ones added first, the old ones drained and removed after."""
        app = self.score
        record_set = record_set_for(app.app, app.expose)
        if record_set.sorted() not in [s.sorted() for s in await host.dns_record_sets() if s.owner == app.app]:
            await host.put_dns_record_set(record_set)
        wanted = frontend_for(app.app, app.expose, backends)
        current = next((f for f in await host.frontends() if f.name == app.app), None)
        if current is None:
            await host.put_frontend(wanted)
        elif current != wanted:
            for backend in backends:
                if current.backend(backend.name) != backend:
                    await host.add_backend(app.app, backend)
            names = {b.name for b in backends}
            for old in current.backends:
                if old.name not in names:
                    await host.remove_backend(app.app, old.name, grace=app.stop_grace.total_seconds())
            now = next((f for f in await host.frontends() if f.name == app.app), None)
            if now != wanted:
                await host.put_frontend(wanted)

    async def _in_load_balancer(self, host: AppHost, container: str) -> bool:
        frontend = next((f for f in await host.frontends() if f.name == self.score.app), None)
        return frontend is not None and frontend.backend(container) is not None

    async def _start(
        self, host: AppHost, spec: ContainerSpec, version: str, *, in_the_way: Sequence[ContainerSummary]
    ) -> ContainerInfo | Outcome:
        """One container of the new version running, or a FAILURE Outcome with nothing of it left.

        ``in_the_way``: containers an interrupted apply left, taking no traffic: a stopped one of that name, or
        one running in the pod it joins (it would hold the port); removed first."""
        app = self.score
        for c in in_the_way:
            await host.remove_container(c.name, grace=0, listed=c)
        try:
            info = await host.run_container(spec, settle=False)  # the smoke check watches it instead
        except ContainerError as e:
            return Outcome.failure(f"{app.app} version {version} did not start: {e}", *e.evidence)
        if info.host_port(app.port) is None:
            await host.remove_container(spec.name, grace=0)
            return Outcome.failure(f"{app.app}: the runtime published no host port for {app.port}")
        return info

    async def _smoke_test(self, host: AppHost, info: ContainerSummary, version: str) -> Outcome | None:
        """``None`` when the container passes its smoke check, else the FAILURE (the caller removes it)."""
        app = self.score
        port = info.host_port(app.port)
        assert port is not None, "checked when started"
        target = Target(address=LOOPBACK, port=Port(port), container=info.name, host=str(app.expose.hostname))
        result = await wait_for(app.smoke, target, prober=host, runtime=host)
        if not result.ok:
            logs = await host.container_logs(info.name, tail=20)
            return Outcome.failure(
                f"{app.app} version {version} ({info.name}) failed its smoke check within "
                f"{app.smoke.timeout.total_seconds():g}s; the previous version keeps serving",
                f"probe: {result.detail}",
                *([f"body: {result.body[:300]!r}"] if result.body else []),
                "last log lines:",
                *(f"  {line}" for line in logs),
            )
        return None
