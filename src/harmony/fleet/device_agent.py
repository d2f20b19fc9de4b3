"""The device agent: runs the Scores its desired-state keys name, reports how they are, answers commands.

Loop (named tasks of one process under the agents' ``Supervisor``: a crash is logged, counted, reported in
the heartbeat and the task restarted with back-off):
- a watch on ``fleet_desired.<device>.>`` replays the last value of each key at start (so workloads come back
  after a reboot), then delivers changes (as the bucket's stream republishes them on
  ``fleet.desired.<device>.>``: a wildcard consumer kept for them cost the server a walk past every other
  device's change). Each value is validated with the Score union; a malformed entry or a kind a device cannot
  run is *rejected*: recorded in this device's state, nothing else touched.
- a device runs ``Container`` Scores; given ``applications`` (a topology with a load balancer, DNS and a
  prober, e.g. a per-device ``ContainerHost.isolated``) it also runs ``Application`` Scores, whose image is
  a reference already in the device's store or a ``PinnedImage`` pulled with the device's own registry login
  (a ``Container`` with a ``PinnedImage`` is pulled the same way, before its old container is touched).
  Without it an ``Application`` is rejected.
- reconcile = the Score's own plan (the drift check, reads only); nothing planned is a NOOP, otherwise apply
  through the Maestro like any other run, with that plan as the run's (journaled on the device, ``harmony
  runs``; the reported state names the run; its events are logged) (the ``Container`` Score
  replaces a changed container gracefully: stop signal, grace, kill, then the new one; an ``Application``
  deploys blue-green behind the device's load balancer). Then the health gate: for a ``Container``, it runs
  and its health command (if any) passes; for an ``Application``, its apply passed the smoke check (an apply
  fails otherwise) or, when nothing was planned, its version's containers run behind the load balancer.
  The result goes to ``fleet_state``. An ``Application``'s replaced version keeps running for
  ``scale_down_delay`` after the switch (as Argo Rollouts' blue-green ``scaleDownDelaySeconds``): a rollback
  within it is a load-balancer switch, and the old version's stop and its image's pruning (podman's clean-up
  of a container is most of a device's time after its pull) come after the rollout, in a run of their own,
  reported too. With no delay, the new version is reported as soon as it serves, before the old one is stopped.
- every ``ground_truth_interval`` the same reconcile runs for every deployment: drift (a container removed
  or stopped by hand) is repaired. It needs no NATS, so it also runs while NATS is unreachable.
- heartbeats (a few dozen bytes) every ``heartbeat_interval``; ``fleet_info`` once per connection.
- commands on ``fleet.cmd.<device>.<verb>``: ``ping``, ``logs`` (bounded), ``restart``.
When NATS is unreachable the workloads keep running; after a reconnect (nats-py retries with exponential
backoff and full jitter) the agent waits a random share of ``resync_jitter`` and resynchronises: a new watch
(which replays) and a fresh report of every state. Not guaranteed: reports made while disconnected are
dropped, not queued (the resync replaces them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from harmony.agent.supervisor import SupervisorLink
from harmony.agent.tasks import Supervisor
from harmony.domain.capabilities.containers import ContainerRuntime
from harmony.domain.capabilities.key_value import KeyChange
from harmony.domain.change import Change
from harmony.domain.errors import CapabilityError, HarmonyError, KeyValueError, KeyValueUnavailable, RegistryError
from harmony.domain.image_refs import PinnedImage
from harmony.domain.outcome import Outcome
from harmony.domain.score import AnyScore, kind_of, score_adapter, score_kinds
from harmony.domain.topology import Topology
from harmony.fleet.agent_release import AGENT_DEPLOYMENT, RELEASES
from harmony.fleet.agent_upgrade import AgentUpgrader
from harmony.fleet.metrics import DeviceMetrics
from harmony.fleet.records import (
    COMMANDS,
    DESIRED,
    DESIRED_LIVE,
    HEARTBEAT,
    INFO,
    STATE,
    DeploymentState,
    DeviceInfo,
    Heartbeat,
    now,
    version_of,
)
from harmony.infra.nats import NatsConnection, NatsObjectStore, NatsOptions, NatsWatch, backoff_delay
from harmony.maestro.events import Event, ScoreFinished
from harmony.maestro.journal import Journal, default_journal_path
from harmony.maestro.runner import Maestro, RunReport
from harmony.modules.application.application import APP_LABEL, KEEP_PREVIOUS, ON_SERVING, AppHost, Application
from harmony.modules.application.container import Container
from harmony.modules.application.image import BusyboxImage
from harmony.topology.container_host import plan_listing_reused
from harmony.topology.runtime_host import RuntimeHost

log = logging.getLogger(__name__)

AGENT_VERSION = "harmony-fleet-agent/1"
_JITTER = random.Random()  # one for every agent of the process: its state is 2.5 KiB, the jitter needs no more
LOGS_MAX_LINES = 500

type DeviceScore = Container | Application
"""What a device agent runs: a container, or (on a device with a load balancer and DNS) an application."""


class Rejected(HarmonyError):
    """A desired-state entry this device will not run; the message says why."""


_adapters: dict[tuple[str, ...], TypeAdapter[AnyScore]] = {}


def _union() -> TypeAdapter[AnyScore]:
    """The Score union, built once per set of registered kinds (building it costs milliseconds)."""
    kinds = tuple(score_kinds())
    if kinds not in _adapters:
        _adapters[kinds] = score_adapter()
    return _adapters[kinds]


def accept(raw: bytes, *, applications: bool = False) -> DeviceScore:
    """The Score in a desired-state entry, if this device can run it; ``Rejected`` with the reason otherwise.

    ``applications``: the device has the load balancer, DNS and prober an ``Application`` needs.
    """
    kinds = "container, application" if applications else "container"
    try:
        score = _union().validate_json(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(entry)"
        raise Rejected(f"not a valid Score: {where}: {first['msg']}") from e
    if isinstance(score, Container):
        return score
    if not isinstance(score, Application):
        raise Rejected(f"kind {kind_of(score)!r} cannot run on a device; this device runs: {kinds}")
    if not applications:
        raise Rejected(
            f"kind 'application' needs a load balancer and DNS, which this device's topology lacks; "
            f"this device runs: {kinds}"
        )
    if isinstance(score.image, BusyboxImage):
        raise Rejected(
            f"application {score.app}: image is a BusyboxImage Score, which a device does not build; "
            "expected an image reference in the device's store (imported offline)"
        )
    return score


class DeviceAppHost(AppHost, Topology, Protocol):
    """Where a device runs ``Application`` Scores: their capabilities, on a topology the Maestro can run."""


def applied(report: RunReport) -> tuple[Outcome, str]:
    """The outcome of a one-Score run, and the run's id in the journal."""
    outcome = report.results[0].outcome if report.results else None
    return outcome or Outcome.failure(report.error or "not applied"), report.run_id


_journals: dict[tuple[int, Path], Journal] = {}


def shared_journal(path: Path | None) -> Journal:
    """The journal at ``path`` (None: the machine's default), one connection for every agent of this thread.

    A device runs one agent, but a test or a bench runs thousands in one process: one SQLite connection each
    cost ~20 KiB per agent, and each connection's first run swept every run the others had in flight. Sharing
    is safe: no ``Journal`` method awaits, so each record is written whole between two agents' steps.
    ``lean``: an agent writes a few records per apply, for months; its connection keeps no page cache.
    ``hold_outcomes``: an apply is one Score, so two commits (before it changes anything, after) instead of four.
    """
    key = (threading.get_ident(), path or default_journal_path())
    journal = _journals.get(key)
    if journal is None:
        journal = _journals[key] = Journal(key[1], lean=True, hold_outcomes=True)
    return journal


@dataclass
class AgentSettings:
    heartbeat_interval: float = 5.0
    ground_truth_interval: float = 30.0
    resync_jitter: float = 2.0
    health_timeout: float = 20.0
    metrics_port: int | None = None
    """Serve /metrics on this port (0: a free one, see ``DeviceAgent.metrics_port``); None: no listener."""
    metrics_host: str = "127.0.0.1"
    journal: Path | None = None
    """The journal of this device's applies (None: the machine's default, the one ``harmony runs`` reads)."""
    restart_delay: float = 0.5
    """First back-off before a crashed task starts again (doubling up to 30 s while it keeps crashing)."""
    scale_down_delay: float = 30.0
    """Seconds an application's replaced version keeps running after the switch (a rollback within them is a
    load-balancer switch, nothing to start); then the agent stops it and prunes its image. 0: at once."""


@dataclass
class _Deployment:
    version: str
    score: DeviceScore | None  # None: rejected
    state: DeploymentState
    reported: bool = False  # the server has this state (a running one is reported once, a change of phase again)
    missed: int = 0  # reports in a row the server did not take while connected (the retry's backoff)
    retire_at: float | None = None  # when the version this one replaced stops (event-loop time; None: not serving yet)
    retired: bool = False  # that stop is done (or there was no delay)


@dataclass
class DeviceAgent:
    device: str
    options: NatsOptions
    runtime: ContainerRuntime
    applications: DeviceAppHost | None = None
    """The topology ``Application`` Scores run on (usually the same object as ``runtime``); None: none run."""
    runtime_name: str = "podman"
    settings: AgentSettings = field(default_factory=AgentSettings)
    deployments: dict[str, _Deployment] = field(default_factory=dict[str, _Deployment])
    bus: NatsConnection | None = None
    _watch: NatsWatch | None = None
    _dirty: asyncio.Queue[str] = field(default_factory=asyncio.Queue[str])
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _beats: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    metrics: DeviceMetrics = field(default_factory=DeviceMetrics)
    metrics_port: int | None = None
    """The port /metrics listens on once started (None: no listener)."""
    journal: Journal | None = None
    """Where applies are journaled (opened at start from ``settings.journal`` when not given)."""
    supervisor: SupervisorLink | None = field(default_factory=SupervisorLink.from_env)
    """The supervisor this agent runs under (``harmony agent supervise``, from the environment): it is told of
    each heartbeat sent, and applies agent upgrades. None: not supervised (an upgrade is then refused)."""
    upgrader: AgentUpgrader | None = None
    """Applies desired agent versions (the ``harmony-agent`` key); made once connected."""
    tasks: Supervisor = field(init=False)
    """The agent's tasks (reconciler, ground truth, heartbeat, resync): crashes restarted and reported."""

    def __post_init__(self) -> None:
        self.tasks = Supervisor(
            owner=self.device, on_crash=self.metrics.task_crashed, base_delay=self.settings.restart_delay
        )

    async def start(self) -> None:
        """Connect (waiting for NATS as long as it takes), subscribe, and start the agent's tasks."""
        if self.journal is None:
            self.journal = shared_journal(self.settings.journal)
        if self.settings.metrics_port is not None:
            self.metrics_port = self.metrics.endpoint.start(
                port=self.settings.metrics_port, host=self.settings.metrics_host
            )
        self.bus = await NatsConnection.connect(self.options, on_reconnect=self._on_reconnect, wait_for_server=True)
        self.upgrader = AgentUpgrader(
            self.supervisor, NatsObjectStore(self.bus, RELEASES), self._report, on_running=self._publish_info
        )
        self.tasks.start("reconciler", self._reconciler)
        self.tasks.start("ground-truth", self._ground_truth)
        self.tasks.start("heartbeat", self._heartbeat)
        await self.bus.serve(f"{COMMANDS}.{self.device}.*", self._command)
        await self._first_resync()
        self.ready.set()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # every crash was reported when it happened
            await self.tasks.stop_all()
        if self.bus is not None:
            await self.bus.close()
        self.metrics.endpoint.stop()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # desired state

    async def _on_reconnect(self) -> None:
        async def later() -> None:
            await asyncio.sleep(_JITTER.uniform(0, self.settings.resync_jitter))
            with contextlib.suppress(KeyValueError):
                await self._resync()

        self.tasks.start_once("resync", later())  # replaces a resync still waiting: reconnects never pile up

    async def _first_resync(self) -> None:
        """The start's resync, tried again (with backoff) while the server answers too late: thousands of agents
        starting at once (a fleet after the hub restarted) keep it busy. A refusal still ends the start."""
        attempt = 0
        while True:
            try:
                return await self._resync()
            except KeyValueUnavailable as e:
                delay = backoff_delay(
                    attempt, base=self.options.reconnect_base, cap=self.options.reconnect_cap, rng=_JITTER
                )
                log.warning("%s: resync at start: %s; trying again in %.1fs", self.device, e, delay)
                await asyncio.sleep(delay)
                attempt += 1

    async def _resync(self) -> None:
        assert self.bus is not None
        if self._watch is not None:
            await self._watch.stop()
        for dep in self.deployments.values():
            dep.reported = False
        await self._publish_info()
        self._watch = await self.bus.bucket(DESIRED).watch(f"{self.device}.>", self._on_desired, live=DESIRED_LIVE)
        for name in self.deployments:
            self._dirty.put_nowait(name)

    async def _publish_info(self) -> None:
        assert self.bus is not None
        info = DeviceInfo(
            device=self.device, hostname=socket.gethostname(), agent=AGENT_VERSION, runtime=self.runtime_name,
            started_at=now(), release=self.supervisor.paths.current_version() if self.supervisor else "",
        )  # fmt: skip
        await self.bus.bucket(INFO).publish(self.device, info.to_bytes())

    async def _on_desired(self, update: KeyChange) -> None:
        name = update.key.partition(".")[2]
        if name == AGENT_DEPLOYMENT:  # the agent's own version, not a workload
            if update.value is not None and self.upgrader is not None:
                self.tasks.start_once("upgrade", self.upgrader.apply(update.value))
            return
        if update.value is None:
            async with self._lock:  # never under a reconcile of the same workload
                old = self.deployments.pop(name, None)
                if old is not None and old.score is not None:
                    with contextlib.suppress(CapabilityError):
                        await self._remove(old.score)
            await self._report(DeploymentState(deployment=name, version="", phase="removed", message="undeployed"))
            return
        version = version_of(update.value)
        current = self.deployments.get(name)
        if current is not None and current.version == version:
            self._dirty.put_nowait(name)  # a replay after a resync: re-check and re-report
            return
        try:
            score = accept(update.value, applications=self.applications is not None)
            state = DeploymentState(deployment=name, version=version, phase="applying")
        except Rejected as e:
            score = None
            state = DeploymentState(deployment=name, version=version, phase="rejected", message=str(e))
        self.deployments[name] = _Deployment(version, score, state)
        self._dirty.put_nowait(name)

    # reconcile

    async def _reconciler(self) -> None:
        while True:
            name = await self._dirty.get()
            try:
                await self.reconcile(name)
            except HarmonyError as e:  # one workload's trouble never stops the others'
                log.warning("%s: reconcile of %s failed: %s", self.device, name, e)
            except BaseException:  # a bug, or a stop: the work is not done; the restarted reconciler retries it
                self._dirty.put_nowait(name)
                raise

    async def reconcile(self, name: str) -> None:
        dep = self.deployments.get(name)
        if dep is None:
            return
        async with self._lock:
            if self.deployments.get(name) is not dep:
                return  # replaced or undeployed while waiting for the lock
            if dep.score is not None:
                started = time.monotonic()
                settled = dep.state.phase == "running"  # serving this version already: a drift check
                before = dep.state.phase
                keep = self._keep_previous(dep)
                dep.state = await self._converge(name, dep.version, dep.score, settled=settled, keep_previous=keep)
                if dep.state.phase != before:  # a recovery (failed, now running) is news too
                    dep.reported = False
                if isinstance(dep.score, Application) and dep.state.phase == "running" and not dep.retired:
                    self._scale_down(name, dep, keep)
                self.metrics.reconciled(seconds=time.monotonic() - started, failed=dep.state.phase == "failed")
        if not dep.reported or dep.state.phase != "running":
            await self._report_dep(dep)
            if not dep.reported:
                self._report_again(name, dep)

    def _keep_previous(self, dep: _Deployment) -> float:
        """Seconds the version an application's run replaces keeps running (``KEEP_PREVIOUS``): the whole scale-down
        delay until the new version serves, then what is left of it."""
        if dep.retire_at is None:
            return self.settings.scale_down_delay
        left = dep.retire_at - asyncio.get_running_loop().time()
        return left if left > 0.05 else 0.0  # the timer's own run may come a hair early: it stops the version

    def _scale_down(self, name: str, dep: _Deployment, keep: float) -> None:
        """After a run that left ``dep`` serving: the scale-down delay starts when it first serves, and a run
        with none of it left has stopped the previous version (reported, if there was one to stop)."""
        loop = asyncio.get_running_loop()
        if dep.retire_at is None:
            dep.retire_at = loop.time() + keep
            if keep > 0:
                loop.call_later(keep, self._dirty.put_nowait, name)
            dep.retired = keep == 0
        elif keep == 0:
            dep.retired = True
            dep.reported = dep.reported and not dep.state.run  # news if this run stopped something

    async def _converge(
        self, name: str, version: str, score: DeviceScore, *, settled: bool, keep_previous: float = 0.0
    ) -> DeploymentState:
        """Plan, apply if needed, then the health gate; any capability error becomes a ``failed`` state.

        A version not ``settled`` yet (new, or failed before) with an image from the registry has that image
        pulled while the plan is made: in a rollout the pull is most of a device's time, and it touches no
        container (a drift check of a settled version pulls only when the plan asks for it)."""
        try:
            if isinstance(score, Application):
                keeping = KEEP_PREVIOUS.set(keep_previous)
                try:
                    return await self._converge_application(name, version, score, settled=settled)
                finally:
                    KEEP_PREVIOUS.reset(keeping)
            return await self._converge_once(name, version, score, settled=settled)
        except HarmonyError as e:
            return DeploymentState(deployment=name, version=version, phase="failed", message=str(e))

    async def _plan_and_pull(
        self, plan: Awaitable[Sequence[Change]], image: PinnedImage | None
    ) -> tuple[Sequence[Change], str | None]:
        """``plan``'s changes, with ``image`` (if any) pulled meanwhile; why the pull failed, if it did."""
        if image is None:
            return await plan, None
        pulling = asyncio.ensure_future(self._pull(image, likely_new=True))
        try:
            changes = await plan
        except BaseException:
            pulling.cancel()
            with contextlib.suppress(BaseException):  # the plan's error is the one to tell
                await pulling
            raise
        return changes, await pulling

    async def _converge_once(self, name: str, version: str, score: Container, *, settled: bool) -> DeploymentState:
        image = score.spec.image
        early = image if isinstance(image, PinnedImage) and not settled else None
        changes, failed = await self._plan_and_pull(score.interpret().plan(self.runtime), early)  # plan: reads only
        if changes and isinstance(image, PinnedImage):  # fetched before the old container is touched
            if early is None:
                failed = await self._pull(image)
            if failed is not None:
                return DeploymentState(
                    deployment=name,
                    version=version,
                    phase="failed",
                    message=f"{failed}; the current container keeps running",
                )
        run = ""
        outcome = None
        if changes:
            outcome, run = applied(
                await self._maestro(name, RuntimeHost(self.runtime, name=self.device)).apply([score], planned=[changes])
            )
            if not outcome.ok:
                return DeploymentState(
                    deployment=name, version=version, phase="failed", message=outcome.message,
                    details=outcome.details, run=run,
                )  # fmt: skip
        healthy, why = await self._healthy(score)
        message = outcome.message if outcome is not None else "already in the desired state"
        if not healthy:
            logs = await self.runtime.container_logs(score.spec.name, tail=10)
            return DeploymentState(
                deployment=name, version=version, phase="failed", message=why, details=tuple(logs), run=run
            )
        return DeploymentState(deployment=name, version=version, phase="running", message=message, run=run)

    async def _converge_application(
        self, name: str, version: str, score: Application, *, settled: bool
    ) -> DeploymentState:
        """Blue-green apply on the device's ``applications`` topology; its smoke check is the health gate.

        The drift check (reads only) is the run's plan if not empty. A new version's image is pulled from
        the start, while the plan is made: the apply's own pull joins that one (the host shares it), so the
        apply's reads of what runs also happen during the pull, and a failed pull fails the run before
        anything is touched."""
        host = self.applications
        assert host is not None, "accept() rejects applications on a device without them"
        early = score.image if isinstance(score.image, PinnedImage) and not settled else None
        pulling = asyncio.ensure_future(self._pull(early, likely_new=True)) if early is not None else None

        async def serving(message: str) -> None:  # reported before the old version is stopped: see ON_SERVING
            await self._report(DeploymentState(deployment=name, version=version, phase="running", message=message))

        hook = ON_SERVING.set(serving)
        try:
            with plan_listing_reused():  # the apply's first read is the plan's, made just before
                changes = await score.interpret().plan(host)
                if not changes:
                    return DeploymentState(deployment=name, version=version, phase="running", message="already serving")
                outcome, run = applied(await self._maestro(name, host).apply([score], planned=[changes]))
        finally:
            ON_SERVING.reset(hook)
            if pulling is not None:  # done unless there was nothing to change or a failure: nobody waits for it
                pulling.cancel()
                with contextlib.suppress(BaseException):
                    await pulling
        if not outcome.ok:  # not pulled, not started, smoke check failed, or switch failed: the old one serves
            return DeploymentState(
                deployment=name, version=version, phase="failed", message=outcome.message, details=outcome.details,
                run=run,
            )  # fmt: skip
        return DeploymentState(deployment=name, version=version, phase="running", message=outcome.message, run=run)

    def _maestro[T: Topology](self, name: str, topology: T) -> Maestro[T]:
        """Applies go through the Maestro like any run: journaled (``harmony runs`` on the device), with events."""
        return Maestro(
            topology, journal=self.journal, on_event=self._on_event, deployment=f"fleet:{self.device}:{name}"
        )

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ScoreFinished):
            log.info("%s: %s: %s %s", self.device, event.score, event.outcome.status.value, event.outcome.message)
        elif log.isEnabledFor(logging.DEBUG):  # a fleet's agents emit thousands: no JSON nobody reads
            log.debug("%s: %s", self.device, event.model_dump_json())

    async def _pull(self, image: PinnedImage, *, likely_new: bool = False) -> str | None:
        """Pull a pinned image with this device's own registry login (``likely_new``: a new version's, pulled
        early); why not, if it failed (the caller says what keeps running)."""
        if self.applications is None:
            return (
                f"image {image} is in a registry, and this device has no registry login "
                "(start the agent with --dns-port and --registry-login)"
            )
        try:
            await self.applications.pull_image(image, likely_new=likely_new)
        except RegistryError as e:
            return f"image pull failed: {e}"
        return None

    def _runtime_for(self, score: DeviceScore) -> ContainerRuntime:
        """Where a workload's containers run: an application's on ``applications``, a container's on ``runtime``."""
        if isinstance(score, Application) and self.applications is not None:
            return self.applications
        return self.runtime

    async def _containers(self, score: DeviceScore) -> list[str]:
        """The containers a workload runs: the ``Container``'s one, or every container of the application."""
        if isinstance(score, Container):
            return [score.spec.name]
        return sorted(c.name for c in await self._runtime_for(score).list_container_summaries({APP_LABEL: score.app}))

    async def _remove(self, score: DeviceScore) -> None:
        """Undeploy: the containers, and for an application its frontend, DNS name and pods too."""
        if isinstance(score, Application) and self.applications is not None:
            with contextlib.suppress(CapabilityError):
                await self.applications.remove_frontend(score.app)
            with contextlib.suppress(CapabilityError):
                await self.applications.remove_dns_record_set(score.app)
        runtime = self._runtime_for(score)
        for container in await self._containers(score):
            await runtime.remove_container(container, grace=score.stop_grace.total_seconds())
        if isinstance(score, Application):
            for pod in await runtime.list_pods():
                if score.owns_pod(pod):
                    await runtime.remove_pod(pod)

    async def _healthy(self, score: Container) -> tuple[bool, str]:
        """The container runs and its health command, if any, passes within ``health_timeout``."""
        spec = score.spec
        deadline = time.monotonic() + self.settings.health_timeout
        last = "no health check"
        while True:
            info = await self.runtime.inspect_container(spec.name)
            if info is None or not info.running:
                state = "missing" if info is None else f"{info.state} (exit {info.exit_code})"
                return False, f"container {spec.name} is not running: {state}"
            if spec.health is None:
                return True, last
            status, output = await self.runtime.exec_in_container(spec.name, spec.health.command, timeout=5.0)
            if status == 0:
                return True, "health check passed"
            last = f"health check `{' '.join(spec.health.command)}` exited {status}: {output.strip()[-200:]}"
            if time.monotonic() + spec.health.interval.total_seconds() > deadline:
                return False, last
            await asyncio.sleep(spec.health.interval.total_seconds())

    async def _ground_truth(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ground_truth_interval)
            for name in list(self.deployments):
                try:
                    await self.reconcile(name)
                except HarmonyError as e:
                    log.warning("%s: drift check of %s failed: %s", self.device, name, e)

    # reporting

    async def _report_dep(self, dep: _Deployment) -> None:
        dep.reported = await self._report(dep.state)
        if dep.reported:
            dep.missed = 0

    def _report_again(self, name: str, dep: _Deployment) -> None:
        """A report the server did not take while connected (no acknowledgement in time from a busy server,
        its bucket missing) is made again after a backoff, not at the next ground-truth pass. While
        disconnected nothing is retried: the resync after the reconnect reports everything."""
        if self.bus is None or not self.bus.connected:
            return
        delay = backoff_delay(dep.missed, base=self.options.reconnect_base, cap=self.options.reconnect_cap, rng=_JITTER)
        dep.missed += 1

        async def later() -> None:
            await asyncio.sleep(delay)
            self._dirty.put_nowait(name)

        self.tasks.start_once(f"report-again:{name}", later())  # one pending retry per deployment

    async def _report(self, state: DeploymentState) -> bool:
        if self.bus is None or not self.bus.connected:
            return False
        try:
            await self.bus.bucket(STATE).publish(f"{self.device}.{state.deployment}", state.to_bytes())
        except KeyValueError as e:
            log.warning("%s: could not report %s: %s", self.device, state.deployment, e)
            return False
        return True

    async def _heartbeat(self) -> None:
        first = True
        while True:
            self._beats += 1
            self.metrics.heartbeat()
            self.metrics.deployments(Counter(d.state.phase for d in self.deployments.values()))
            ok = sum(d.state.phase == "running" for d in self.deployments.values())
            beat = Heartbeat(
                t=round(time.time(), 3), seq=self._beats, ok=ok, bad=len(self.deployments) - ok,
                crashes=self.tasks.crashes, down=tuple(self.tasks.unhealthy()),
            )  # fmt: skip
            if self.bus is not None and self.bus.connected:
                with contextlib.suppress(KeyValueError):
                    if self.supervisor is None:
                        await self.bus.bucket(HEARTBEAT).put_nowait(self.device, beat.to_bytes())
                    else:  # acknowledged: the supervisor keeps a new release only once NATS has its heartbeat
                        await self.bus.bucket(HEARTBEAT).publish(self.device, beat.to_bytes())
                        self.supervisor.beat()
            # the first beat at once (the device is online now), then at a random phase: no fleet-wide bursts
            pause = _JITTER.uniform(0, self.settings.heartbeat_interval) if first else self.settings.heartbeat_interval
            first = False
            await asyncio.sleep(pause)

    # commands

    async def _command(self, subject: str, payload: bytes) -> bytes:
        verb = subject.rsplit(".", 1)[-1]
        try:
            args: dict[str, Any] = json.loads(payload or b"{}")
            answer = await self._answer(verb, args)
        except (HarmonyError, ValueError, TypeError) as e:
            answer = {"error": str(e)}
        return json.dumps(answer).encode()

    async def _answer(self, verb: str, args: dict[str, Any]) -> dict[str, Any]:
        if verb == "ping":
            states = {n: {"version": d.version, "phase": d.state.phase} for n, d in self.deployments.items()}
            return {"device": self.device, "agent": AGENT_VERSION, "deployments": states}
        name = str(args.get("deployment", ""))
        dep = self.deployments.get(name)
        if dep is None or dep.score is None:
            return {"error": f"no running deployment {name!r} on {self.device}; it has: {', '.join(self.deployments)}"}
        containers = await self._containers(dep.score)
        if not containers:
            return {"error": f"deployment {name!r} on {self.device} runs no container now"}
        container = containers[0]
        if verb == "logs":
            lines = max(1, min(int(args.get("lines", 50)), LOGS_MAX_LINES))
            return {
                "device": self.device,
                "container": container,
                "lines": list(await self._runtime_for(dep.score).container_logs(container, tail=lines)),
            }
        if verb == "restart":
            async with self._lock:
                restarted: list[str] = []
                for each in containers:
                    await self._runtime_for(dep.score).stop_container(each, grace=dep.score.stop_grace.total_seconds())
                    restarted.append((await self._runtime_for(dep.score).start_container(each)).state)
            return {"device": self.device, "container": container, "state": restarted[0]}
        return {"error": f"unknown command {verb!r}; commands: ping, logs, restart"}
