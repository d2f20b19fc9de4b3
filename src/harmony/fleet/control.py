"""The control side of a fleet: devices, deployments, rollouts and status, over NATS KV.

``FleetControl`` is what ``harmony fleet …`` calls. A rollout's record lives in KV, so ``pause``, ``resume``
and ``abort`` from another process take effect at the driver's next look (every ``poll`` seconds); the
driver writes with compare-and-set, so it never overwrites such a decision. ``drive`` runs until the
rollout is done, halted, paused or aborted; ``resume`` drives it again. Each wave is released by one
compare-and-set that also records who released it (``Rollout.starts``), so two drivers of the same rollout
(a CLI and ``harmony fleet serve``, or two controllers) never release a wave twice. The always-on driver is
``harmony.fleet.controller``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from harmony.domain.capabilities.key_value import ChangeHandler, KeyChange
from harmony.domain.errors import InvalidValueError, KeyValueConflict, KeyValueUnavailable
from harmony.domain.image_refs import PinnedImage
from harmony.domain.score import AnyScore, score_adapter
from harmony.domain.secret import REVEAL
from harmony.fleet.agent_release import AGENT_DEPLOYMENT
from harmony.fleet.lease import LEASE_KEY, ControllerBeat, Lease
from harmony.fleet.records import (
    BUCKETS,
    COMMANDS,
    CONTROLLER,
    CONTROLLER_STATUS,
    DESIRED,
    DEVICES,
    HEARTBEAT,
    INFO,
    REPUBLISHED,
    ROLLOUTS,
    STATE,
    DeploymentState,
    DeviceInfo,
    DeviceRecord,
    Heartbeat,
    check_token,
    version_of,
)
from harmony.fleet.rollout import (
    Rollout,
    RolloutPhase,
    Strategy,
    WaveStart,
    matches,
    plan_waves,
    waiting_for,
    wave_verdict,
)
from harmony.fleet.status import DeploymentStatus, aggregate, is_online
from harmony.infra.nats import NatsConnection, NatsOptions, NatsWatch, NoResponders
from harmony.modules.application.application import Application
from harmony.modules.application.container import Container

LOGS_MAX_LINES = 500

type Progress = Callable[[DeploymentStatus], None]
type Step = Literal["idle", "wait", "released", "halted", "done", "conflict"]
"""What one ``advance`` did: ``idle`` the rollout is not running; ``conflict`` another writer came first."""


class DeviceOffline(NoResponders):
    """The device has no agent listening: it is offline (not a timeout)."""

    def __init__(self, device: str) -> None:
        self.device = device
        super().__init__("", f"device {device} is offline: no agent answers its commands")


class DeviceOverview(BaseModel):
    model_config = ConfigDict(frozen=True)

    device: str
    labels: dict[str, str]
    online: bool
    last_seen: datetime | None
    healthy: int
    unhealthy: int
    agent: str | None = None
    """The agent release it runs (``installed``: the enrolled build); None: it has not said."""
    upgrade: str = ""
    """Its last agent upgrade: version, phase and why (``harmony-agent`` state), empty when none."""


class FleetView:
    """A live view of device states and heartbeats, kept current by two watches.

    ``everything``: also the registered devices, their info and the rollouts (what a controller and its
    dashboard show). ``changes`` counts updates of states, devices, info, rollouts and desired state (not
    heartbeats), so a reader can tell whether anything but time moved.
    """

    def __init__(self, bus: NatsConnection, *, offline_after: float, everything: bool = False) -> None:
        self._bus = bus
        self.offline_after = offline_after
        self.everything = everything
        self.states: dict[str, dict[str, DeploymentState]] = {}  # deployment -> device -> state
        self.beats: dict[str, tuple[Heartbeat, datetime]] = {}
        self.devices: dict[str, DeviceRecord] = {}
        self.info: dict[str, DeviceInfo] = {}
        self.rollouts: dict[str, tuple[Rollout, datetime]] = {}  # deployment -> (record, stored at)
        self.controllers: dict[str, tuple[ControllerBeat, datetime]] = {}
        self.desired: dict[str, dict[str, str]] = {}  # device -> deployment -> desired version
        self.lease: tuple[Lease, datetime] | None = None
        self._watches: list[NatsWatch] = []
        self.changed = asyncio.Event()
        self.changes = 0

    def _touch(self) -> None:
        self.changes += 1
        self.changed.set()

    async def start(self) -> None:
        async def on_state(u: KeyChange) -> None:
            device, _, deployment = u.key.partition(".")
            if u.value is not None:
                self.states.setdefault(deployment, {})[device] = DeploymentState.from_bytes(u.value)
            else:
                self.states.get(deployment, {}).pop(device, None)
            self._touch()

        async def on_beat(u: KeyChange) -> None:
            if u.value is not None:
                self.beats[u.key] = (Heartbeat.from_bytes(u.value), u.stored_at)
                # neither ``changed`` nor ``changes``: a beat never settles a wave (online-ness is read per look),
                # and readers that show heartbeat ages refresh them on their own clock

        async def on_device(u: KeyChange) -> None:
            if u.value is None:
                self.devices.pop(u.key, None)
            else:
                self.devices[u.key] = DeviceRecord.from_bytes(u.value)
            self._touch()

        async def on_info(u: KeyChange) -> None:
            if u.value is not None:
                self.info[u.key] = DeviceInfo.from_bytes(u.value)
                self._touch()

        async def on_rollout(u: KeyChange) -> None:
            if u.value is None:
                self.rollouts.pop(u.key, None)
            else:
                self.rollouts[u.key] = (Rollout.from_bytes(u.value), u.stored_at)
            self._touch()

        async def on_desired(u: KeyChange) -> None:
            device, _, deployment = u.key.partition(".")
            if u.value is None:
                self.desired.get(device, {}).pop(deployment, None)
            else:
                self.desired.setdefault(device, {})[deployment] = version_of(u.value)
            self._touch()

        async def on_controller(u: KeyChange) -> None:
            if u.key == LEASE_KEY:
                self.lease = (Lease.from_bytes(u.value), u.stored_at) if u.value is not None else None
            elif u.value is not None:
                beat = ControllerBeat.from_bytes(u.value)
                self.controllers[beat.controller] = (beat, u.stored_at)
            # renewals and beats: frequent, and they never settle a wave (not counted in ``changes`` either)

        handlers: list[tuple[str, ChangeHandler]] = [(STATE, on_state), (HEARTBEAT, on_beat)]
        if self.everything:
            handlers += [(DEVICES, on_device), (INFO, on_info), (ROLLOUTS, on_rollout), (DESIRED, on_desired)]
            handlers.append((CONTROLLER, on_controller))
        self._watches = [await self._bus.bucket(bucket).watch(">", handler) for bucket, handler in handlers]
        await asyncio.gather(*(w.replayed.wait() for w in self._watches))

    async def stop(self) -> None:
        for w in self._watches:
            await w.stop()
            await w.delete_consumer()

    def online(self) -> dict[str, bool]:
        at = datetime.now(UTC)
        return {d: is_online(b, t, now=at, offline_after=self.offline_after) for d, (b, t) in self.beats.items()}

    def online_now(self) -> OnlineNow:
        """``online()`` read per device when asked: a driver's look asks only of the devices not settled yet."""
        return OnlineNow(self.beats, now=datetime.now(UTC), offline_after=self.offline_after)


class OnlineNow(Mapping[str, bool]):
    """Whether each device with a heartbeat is online at ``now``, worked out per look-up."""

    def __init__(self, beats: Mapping[str, tuple[Heartbeat, datetime]], *, now: datetime, offline_after: float) -> None:
        self._beats = beats
        self._now = now
        self._offline_after = offline_after

    def __getitem__(self, device: str) -> bool:
        beat, at = self._beats[device]
        return is_online(beat, at, now=self._now, offline_after=self._offline_after)

    def __iter__(self) -> Iterator[str]:
        return iter(self._beats)

    def __len__(self) -> int:
        return len(self._beats)


class FleetControl:
    def __init__(
        self, bus: NatsConnection, *, offline_after: float = 15.0, poll: float = 0.2, batch: float = 0.01
    ) -> None:
        self.bus = bus
        self.offline_after = offline_after
        self.poll = poll
        self.batch = batch
        self._live: FleetView | None = None
        self._waiting: dict[str, tuple[str, int, list[str]]] = {}
        """Per deployment: (version, wave, the devices its last look waited for). A look checks those first, so
        while thousands report it costs what is left, not the wave; only once they settled is the wave looked at
        whole (which also finds a device that came back online unsettled)."""

    @classmethod
    async def connect(cls, options: NatsOptions, *, offline_after: float = 15.0) -> FleetControl:
        controls: list[FleetControl] = []

        async def reconnected() -> None:
            for control in controls:
                control._live = None  # its watches died with the server's in-memory consumers

        bus = await NatsConnection.connect(options, on_reconnect=reconnected)
        for bucket in BUCKETS:
            await bus.ensure_bucket(bucket, republish=REPUBLISHED.get(bucket))
        controls.append(cls(bus, offline_after=offline_after))
        return controls[0]

    async def close(self) -> None:
        if self._live is not None:
            await self._live.stop()
        await self.bus.close()

    async def live_view(self) -> FleetView:
        """One view kept current for the life of this control (rebuilt after a reconnect)."""
        if self._live is None:
            view = FleetView(self.bus, offline_after=self.offline_after)
            await view.start()
            self._live = view
        return self._live

    # devices

    async def register(self, device: str, labels: Mapping[str, str]) -> DeviceRecord:
        record = DeviceRecord(device=check_token("device", device), labels=dict(labels))
        await self.bus.bucket(DEVICES).publish(device, record.to_bytes())
        return record

    async def devices(self) -> list[DeviceRecord]:
        found = await self.bus.bucket(DEVICES).snapshot()
        return sorted((DeviceRecord.from_bytes(u.value or b"") for u in found.values()), key=lambda r: r.device)

    async def fleet_overview(self) -> list[DeviceOverview]:
        """Every registered device with its labels, whether it is online, its last heartbeat's counts, the agent
        release it runs and its last agent upgrade."""
        view = await self.live_view()
        online = view.online()
        agents = await self.agent_releases()
        upgrades = view.states.get(AGENT_DEPLOYMENT, {})
        rows: list[DeviceOverview] = []
        for record in await self.devices():
            beat = view.beats.get(record.device)
            upgrade = upgrades.get(record.device)
            rows.append(
                DeviceOverview(
                    device=record.device,
                    labels=record.labels,
                    online=online.get(record.device, False),
                    last_seen=beat[1] if beat else None,
                    healthy=beat[0].ok if beat else 0,
                    unhealthy=beat[0].bad if beat else 0,
                    agent=(agents[record.device] or "installed") if record.device in agents else None,
                    upgrade=f"{upgrade.version} {upgrade.phase}: {upgrade.message}" if upgrade else "",
                )
            )
        return rows

    # rollouts

    async def deploy(
        self, deployment: str, score: AnyScore, *, selector: Mapping[str, str], strategy: Strategy
    ) -> Rollout:
        """Record a new rollout of ``score`` to the devices matching ``selector``; ``drive`` releases it."""
        check_token("deployment", deployment)
        if deployment == AGENT_DEPLOYMENT:
            raise InvalidValueError(
                "deployment",
                deployment,
                "another name: it is reserved for agent versions (harmony fleet agent-release)",
            )
        desired = score_adapter().dump_json(score).decode()
        if desired != score_adapter().dump_json(score, context=REVEAL).decode():
            # The desired state is stored in NATS KV as it is; a masked secret would run as the mask itself.
            raise InvalidValueError(
                "score", score.name, "a Score without Secret values (a fleet rollout cannot carry secrets yet)"
            )
        targets = [d.device for d in await self.devices() if matches(d.labels, selector)]
        if not targets:
            raise InvalidValueError("selector", dict(selector), "labels that at least one registered device has")
        rollout = Rollout(
            deployment=deployment,
            version=version_of(desired.encode()),
            desired=desired,
            selector=dict(selector),
            strategy=strategy,
            waves=plan_waves(targets, strategy),
        )
        await self.bus.bucket(ROLLOUTS).publish(deployment, rollout.to_bytes())
        return rollout

    async def rollout(self, deployment: str) -> tuple[Rollout, int]:
        found = await self.bus.bucket(ROLLOUTS).get(check_token("deployment", deployment))
        if found is None:
            raise InvalidValueError(
                "deployment", deployment, "a deployment that was deployed (see `harmony fleet status`)"
            )
        return Rollout.from_bytes(found.value), found.revision

    async def _set_phase(
        self, deployment: str, phase: RolloutPhase, reason: str, *, allowed: tuple[str, ...]
    ) -> Rollout:
        while True:
            rollout, revision = await self.rollout(deployment)
            if rollout.phase not in allowed:
                raise InvalidValueError(
                    f"rollout of {deployment}",
                    rollout.phase,
                    f"a rollout that is {' or '.join(allowed)} (to make it {phase})",
                )
            updated = rollout.model_copy(update={"phase": phase, "reason": reason})
            try:
                await self.bus.bucket(ROLLOUTS).publish(deployment, updated.to_bytes(), expected_revision=revision)
                return updated
            except KeyValueConflict:
                continue

    async def pause(self, deployment: str) -> Rollout:
        return await self._set_phase(deployment, "paused", "paused by the operator", allowed=("running",))

    async def abort(self, deployment: str) -> Rollout:
        return await self._set_phase(
            deployment, "aborted", "aborted by the operator; updated devices stay on this version",
            allowed=("running", "paused", "halted"),
        )  # fmt: skip

    async def resume(self, deployment: str) -> Rollout:
        return await self._set_phase(deployment, "running", "", allowed=("paused", "halted"))

    async def undeploy(self, deployment: str) -> Rollout:
        """Delete the deployment's desired state on every targeted device; agents stop and remove its workload.

        The rollout record stays (phase ``aborted``, reason ``undeployed``) so status shows devices reporting
        ``removed``.
        """
        rollout = await self._set_phase(
            deployment, "aborted", "undeployed", allowed=("running", "paused", "halted", "aborted", "done")
        )
        await asyncio.gather(*(self.bus.bucket(DESIRED).delete(f"{device}.{deployment}") for device in rollout.targets))
        return rollout

    async def drive(self, deployment: str, *, on_progress: Callable[[DeploymentStatus], None] | None = None) -> Rollout:
        """Release waves until the rollout is done, halted, paused or aborted; the final record.

        A wave's time is counted from when this driver first saw it in flight (a restarted driver gives a
        wave more time, never less).
        """
        view = await self.live_view()
        seen: dict[int, float] = {}

        def waited(rollout: Rollout) -> float:
            return time.monotonic() - seen.setdefault(rollout.next_wave, time.monotonic())

        await self.ensure_released(deployment)
        while True:
            rollout, step, _ = await self.advance(deployment, view, waited=waited, by="cli")
            if step in ("idle", "halted", "done"):
                return rollout
            if step != "wait":
                continue  # released a wave, or the record changed meanwhile: look again at once
            if on_progress is not None:
                on_progress(aggregate(rollout, view.states.get(deployment, {}), view.online()))
            view.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(view.changed.wait(), self.poll)
            await asyncio.sleep(self.batch)  # let a burst of reports land before looking again

    async def follow(
        self, deployment: str, *, on_progress: Callable[[DeploymentStatus], None] | None = None
    ) -> Rollout:
        """NatsWatch, without driving, until the rollout stops running (a controller drives it); the final record."""
        view = await self.live_view()
        while True:
            rollout, _ = await self.rollout(deployment)
            if rollout.phase != "running":
                return rollout
            if on_progress is not None:
                on_progress(aggregate(rollout, view.states.get(deployment, {}), view.online()))
            view.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(view.changed.wait(), self.poll)

    async def advance(
        self, deployment: str, view: FleetView, *, waited: Callable[[Rollout], float], by: str
    ) -> tuple[Rollout, Step, str]:
        """One step of a rollout: wait, halt, finish, or release the next wave; (record, step, why).

        Every change is a compare-and-set on the rollout record read at the start of the step, so a wave is
        released once however many drivers look at the same time (the loser gets ``conflict``), and a pause
        or abort from another process is never overwritten. The wave's desired state is written after its
        release was stored: a driver that dies in between leaves it to ``ensure_released``.
        """
        rollout, revision = await self.rollout(deployment)
        if rollout.phase != "running":
            return rollout, "idle", rollout.reason
        if rollout.next_wave:
            online: Mapping[str, bool] = view.online_now()
            if deployment == AGENT_DEPLOYMENT:  # going silent is how a new agent fails: it holds its wave
                online = dict.fromkeys(rollout.targets, True)
            states = view.states.get(deployment, {})
            last = self._waiting.get(deployment)
            if last is not None and last[:2] == (rollout.version, rollout.next_wave):
                still = waiting_for(rollout, states, online, among=last[2])
                if still and waited(rollout) < rollout.strategy.wave_timeout:
                    self._waiting[deployment] = (rollout.version, rollout.next_wave, still)
                    return rollout, "wait", f"waiting for {len(still)} device(s) of wave {rollout.next_wave}"
            verdict, why = wave_verdict(rollout, states, online, waited=waited(rollout))
            if verdict == "wait":
                self._waiting[deployment] = (rollout.version, rollout.next_wave, waiting_for(rollout, states, online))
                return rollout, "wait", why
            self._waiting.pop(deployment, None)
            if verdict == "halt":
                return await self._step(
                    rollout.model_copy(update={"phase": "halted", "reason": why}), revision, "halted"
                )
        if rollout.next_wave >= len(rollout.waves):
            done = rollout.model_copy(update={"phase": "done", "reason": "every wave settled"})
            return await self._step(done, revision, "done")
        wave = rollout.waves[rollout.next_wave]
        number = rollout.next_wave + 1
        released = rollout.model_copy(
            update={"next_wave": number, "starts": (*rollout.starts, WaveStart(wave=number, by=by))}
        )
        after, step, why = await self._step(released, revision, "released")
        if step == "released":
            payload = rollout.desired.encode()
            await asyncio.gather(
                *(self.bus.bucket(DESIRED).publish(f"{device}.{deployment}", payload) for device in wave)
            )
            why = f"wave {number}/{len(rollout.waves)} released to {len(wave)} device(s) by {by}"
        return after, step, why

    async def ensure_released(self, deployment: str) -> int:
        """Write the desired state of every device of an already released wave that lacks it; how many.

        What a driver that took over does first: its predecessor may have died between storing a wave's
        release and writing the wave's desired state. Devices that hold it already are not written again.
        """
        rollout, _ = await self.rollout(deployment)
        if rollout.phase != "running" or not rollout.next_wave:
            return 0
        payload = rollout.desired.encode()
        found = await self.bus.bucket(DESIRED).snapshot(f"*.{deployment}")
        missing = [d for d in rollout.released if (u := found.get(f"{d}.{deployment}")) is None or u.value != payload]
        await asyncio.gather(
            *(self.bus.bucket(DESIRED).publish(f"{device}.{deployment}", payload) for device in missing)
        )
        return len(missing)

    async def _step(self, rollout: Rollout, revision: int, step: Step) -> tuple[Rollout, Step, str]:
        try:
            await self._write(rollout, revision)
        except KeyValueConflict:
            return rollout, "conflict", "the rollout record changed meanwhile (pause, abort or another driver)"
        return rollout, step, rollout.reason

    async def _write(self, rollout: Rollout, revision: int) -> Rollout:
        await self.bus.bucket(ROLLOUTS).publish(rollout.deployment, rollout.to_bytes(), expected_revision=revision)
        return rollout

    # status

    async def status(self, deployment: str, *, fresh: bool = False) -> DeploymentStatus:
        """The deployment's status from the live view, or (``fresh``) from a view read just for this call."""
        rollout, _ = await self.rollout(deployment)
        agents = await self.agent_releases()
        if not fresh:
            view = await self.live_view()
            return aggregate(rollout, view.states.get(deployment, {}), view.online(), agents=agents)
        view = FleetView(self.bus, offline_after=self.offline_after)
        await view.start()
        try:
            return aggregate(rollout, view.states.get(deployment, {}), view.online(), agents=agents)
        finally:
            await view.stop()

    async def agent_releases(self) -> dict[str, str]:
        """Each device's agent release, as it last announced it (empty: the build it was installed with)."""
        found = await self.bus.bucket(INFO).snapshot()
        return {device: DeviceInfo.from_bytes(u.value).release for device, u in found.items() if u.value}

    async def deployments(self) -> list[str]:
        return sorted((await self.bus.bucket(ROLLOUTS).snapshot()).keys())

    async def desired_images(self) -> set[PinnedImage]:
        """Every pinned image some device's desired state names: what registry garbage collection must keep.

        An entry that is not a valid Score names nothing (devices reject it too).
        """
        adapter = score_adapter()
        images: set[PinnedImage] = set()
        for update in (await self.bus.bucket(DESIRED).snapshot()).values():
            try:
                score = adapter.validate_json(update.value or b"")
            except ValidationError:
                continue
            image = (
                score.image
                if isinstance(score, Application)
                else score.spec.image
                if isinstance(score, Container)
                else None
            )
            if isinstance(image, PinnedImage):
                images.add(image)
        return images

    # commands

    async def command(
        self, device: str, verb: str, args: Mapping[str, object], *, timeout: float = 5.0
    ) -> dict[str, object]:
        """Send ``verb`` to ``device``'s agent; ``DeviceOffline`` when no agent listens."""
        subject = f"{COMMANDS}.{check_token('device', device)}.{verb}"
        try:
            reply = await self.bus.request(subject, json.dumps(dict(args)).encode(), timeout=timeout)
        except NoResponders as e:
            raise DeviceOffline(device) from e
        answer: dict[str, object] = json.loads(reply)
        return answer

    async def active_controller(self, *, timeout: float = 1.0) -> dict[str, object] | None:
        """What the active ``harmony fleet serve`` says of itself, or ``None`` when no controller answers."""
        try:
            reply = await self.bus.request(CONTROLLER_STATUS, b"{}", timeout=timeout)
        except KeyValueUnavailable:  # nobody listens (NoResponders), or no answer in time
            return None
        answer: dict[str, object] = json.loads(reply)
        return answer

    async def ping(self, device: str) -> dict[str, object]:
        return await self.command(device, "ping", {})

    async def logs(self, device: str, deployment: str, *, lines: int = 50) -> list[str]:
        answer = await self.command(device, "logs", {"deployment": deployment, "lines": min(lines, LOGS_MAX_LINES)})
        got = answer.get("lines", [])
        return [str(line) for line in got] if isinstance(got, list) else []  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]  # JSON from the device

    async def restart(self, device: str, deployment: str) -> dict[str, object]:
        return await self.command(device, "restart", {"deployment": deployment}, timeout=30.0)
