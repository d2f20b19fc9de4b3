"""The control side of a fleet spread over sites, run at the hub.

Where things are (see ``harmony.topology.sites`` and ``harmony.infra.nats.sites``):

    hub domain      sites_devices   <device>            SiteDevice: which site, labels
                    sites_rollouts  <deployment>        SiteRollout
                    OUT_<site>      hub.out.<site>.<device>.<deployment>   desired state on its way to the site
                    VIEW_<site>     view.<site>.<bucket>.<key>             the site's state/heartbeat/info
    site domain     fleet_desired   <device>.<deployment>   sourced from OUT_<site>: what the device agent reads
                    fleet_state, fleet_heartbeat, fleet_info   written by the site's device agents

A rollout writes each released device's desired state into its site's outbox: the write succeeds at the hub
whether or not the site is reachable, and the site's bucket receives it (once, in the outbox's order) as
soon as the link is up. Waves are the rollout module's, with the same automatic halt: devices of a site the
hub cannot hear are offline, so they neither hold a wave back nor count as failed; the other sites finish.
After the last wave the rollout stays ``running`` while a site it targets is unreachable and has not
reported the version ("waiting for site X, unreachable since T"), and is ``done`` once every such site caught up.

``pause``, ``resume`` and ``abort`` change the rollout record's phase at the hub (compare-and-set, as a driver
releases a wave): a driver in another process stops at its next look, and its in-flight write loses the race
instead of overwriting the pause; ``resume`` makes it ``running`` again for ``drive`` to go on with.

Waves by site: ``plan_site_waves`` puts the canary site's devices first, then ``sites_per_wave`` sites per wave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harmony.domain.errors import InvalidValueError, KeyValueConflict
from harmony.domain.score import AnyScore, score_adapter
from harmony.fleet.records import DeploymentState, Heartbeat, Record, check_token, version_of
from harmony.fleet.rollout import Rollout, RolloutPhase, Strategy, WaveStart, matches, wave_verdict
from harmony.fleet.status import DeploymentStatus, aggregate, is_online
from harmony.infra.nats.sites import JetStreamLink, StoredValue, kv_stream_config, outbox_subject, view_stream

DEVICES = "sites_devices"
ROLLOUTS = "sites_rollouts"
STATE = "fleet_state"
HEARTBEAT = "fleet_heartbeat"


class SiteDevice(Record):
    device: str
    site: str
    labels: dict[str, str] = Field(default_factory=dict[str, str])


class SiteStrategy(BaseModel):
    """Waves of whole sites: ``canary`` (a site name) alone first, then ``sites_per_wave`` sites at a time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    canary: str | None = None
    sites_per_wave: int = Field(default=1, ge=1)
    failure_threshold: float = Field(default=0.0, ge=0.0, le=1.0)
    wave_timeout: float = Field(default=300.0, gt=0)


class SiteRollout(Rollout):
    """A ``Rollout`` whose devices live at sites; ``site_of`` says where each target is."""

    site_of: dict[str, str]
    site_waves: tuple[tuple[str, ...], ...] = ()


class SiteStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: str
    reachable: bool
    last_heard: datetime | None = Field(description="when the hub last stored anything from this site")
    devices: int
    online: int

    @property
    def unreachable_since(self) -> datetime | None:
        return None if self.reachable else self.last_heard


def plan_site_waves(
    devices: Sequence[SiteDevice], strategy: SiteStrategy, *, order: Sequence[str]
) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """(device waves, site waves): the canary site alone first, then ``sites_per_wave`` sites per wave.

    ``order`` is the sites in the order the spec lists them; sites without a target are left out.
    """
    by_site: dict[str, list[str]] = {}
    for d in devices:
        by_site.setdefault(d.site, []).append(d.device)
    sites = [s for s in order if s in by_site]
    if strategy.canary is not None:
        if strategy.canary not in by_site:
            raise InvalidValueError("canary", strategy.canary, f"a site with targeted devices: {', '.join(sites)}")
        sites.remove(strategy.canary)
        groups = [[strategy.canary]]
    else:
        groups = []
    groups += [sites[i : i + strategy.sites_per_wave] for i in range(0, len(sites), strategy.sites_per_wave)]
    site_waves = tuple(tuple(g) for g in groups)
    device_waves = tuple(tuple(sorted(d for s in g for d in by_site[s])) for g in groups)
    return device_waves, site_waves


class SitesView:
    """What the hub knows of every site right now: states, heartbeats (stamped at the hub) and reachability."""

    def __init__(self, *, offline_after: float) -> None:
        self.offline_after = offline_after
        self.states: dict[str, dict[str, DeploymentState]] = {}  # deployment -> device -> state
        self.beats: dict[str, tuple[Heartbeat, datetime]] = {}
        self.last_heard: dict[str, datetime] = {}
        self.reachable: dict[str, bool] = {}
        self.malformed: list[str] = []  # view subjects whose value is not the record its bucket holds

    def online(self) -> dict[str, bool]:
        at = datetime.now(UTC)
        return {d: is_online(b, t, now=at, offline_after=self.offline_after) for d, (b, t) in self.beats.items()}


class HubFleet:
    """``harmony fleet`` at the hub of a fleet of sites."""

    def __init__(
        self, hub: JetStreamLink, sites: Sequence[str], *, offline_after: float = 15.0, poll: float = 0.2
    ) -> None:
        self.hub = hub
        self.sites = tuple(sites)
        self.offline_after = offline_after
        self.poll = poll

    @classmethod
    async def open(cls, hub: JetStreamLink, sites: Sequence[str], *, offline_after: float = 15.0) -> HubFleet:
        for bucket in (DEVICES, ROLLOUTS):
            config = kv_stream_config(bucket)
            config.num_replicas = 3
            await hub.ensure_stream(config)
        return cls(hub, sites, offline_after=offline_after)

    # devices

    async def register(self, device: str, site: str, labels: Mapping[str, str] | None = None) -> SiteDevice:
        check_token("device", device)
        if site not in self.sites:
            raise InvalidValueError("site", site, f"one of {', '.join(self.sites)}")
        record = SiteDevice(device=device, site=site, labels=dict(labels or {}))
        await self.hub.publish(f"$KV.{DEVICES}.{device}", record.to_bytes())
        return record

    async def devices(self) -> list[SiteDevice]:
        found = await self.hub.last_values(f"KV_{DEVICES}", f"$KV.{DEVICES}.>")
        return sorted((SiteDevice.from_bytes(v.value) for v in found.values() if v.value), key=lambda d: d.device)

    # the view

    async def view(self) -> SitesView:
        """Read every site's view stream and ask each site's JetStream whether it answers."""
        view = SitesView(offline_after=self.offline_after)

        async def one(site: str) -> None:
            view.reachable[site] = await self.hub.domain_answers(site)
            values = await self.hub.last_values(view_stream(site), f"view.{site}.>")
            for v in values.values():
                _, _, bucket, key = v.key.split(".", 3)
                _heard(view, site, v)
                if v.value is None:
                    continue
                try:
                    if bucket == STATE:
                        device, _, deployment = key.partition(".")
                        view.states.setdefault(deployment, {})[device] = DeploymentState.from_bytes(v.value)
                    elif bucket == HEARTBEAT:
                        view.beats[key] = (Heartbeat.from_bytes(v.value), v.stored_at)
                except ValidationError:
                    view.malformed.append(v.key)  # not written by a device agent: shown, never fatal

        await asyncio.gather(*(one(s) for s in self.sites))
        return view

    async def site_status(self, view: SitesView | None = None) -> list[SiteStatus]:
        """Each site's link and devices, from ``view`` (default: a fresh read)."""
        view = view or await self.view()
        devices = await self.devices()
        online = view.online()
        return [
            SiteStatus(
                site=site, reachable=view.reachable.get(site, False), last_heard=view.last_heard.get(site),
                devices=sum(d.site == site for d in devices),
                online=sum(d.site == site and online.get(d.device, False) for d in devices),
            )
            for site in self.sites
        ]  # fmt: skip

    # rollouts

    async def deploy(
        self, deployment: str, score: AnyScore, *, selector: Mapping[str, str], strategy: SiteStrategy
    ) -> SiteRollout:
        """Record a rollout of ``score`` to the matching devices, waves by site; ``drive`` releases it."""
        check_token("deployment", deployment)
        desired = score_adapter().dump_json(score).decode()
        targets = [d for d in await self.devices() if matches(d.labels, selector)]
        if not targets:
            raise InvalidValueError("selector", dict(selector), "labels that at least one registered device has")
        waves, site_waves = plan_site_waves(targets, strategy, order=self.sites)
        rollout = SiteRollout(
            deployment=deployment, version=version_of(desired.encode()), desired=desired, selector=dict(selector),
            strategy=Strategy(failure_threshold=strategy.failure_threshold, wave_timeout=strategy.wave_timeout),
            waves=waves, site_of={d.device: d.site for d in targets}, site_waves=site_waves,
        )  # fmt: skip
        await self.hub.publish(f"$KV.{ROLLOUTS}.{deployment}", rollout.to_bytes())
        return rollout

    async def deployments(self) -> list[str]:
        """The deployments with a rollout recorded at the hub, sorted."""
        found = await self.hub.last_values(f"KV_{ROLLOUTS}", f"$KV.{ROLLOUTS}.>")
        return sorted(key.removeprefix(f"$KV.{ROLLOUTS}.") for key, v in found.items() if v.value is not None)

    async def rollout(self, deployment: str) -> tuple[SiteRollout, int]:
        found = await self.hub.last_values(f"KV_{ROLLOUTS}", f"$KV.{ROLLOUTS}.{check_token('deployment', deployment)}")
        value = found.get(f"$KV.{ROLLOUTS}.{deployment}")
        if value is None or value.value is None:
            raise InvalidValueError("deployment", deployment, "a deployment deployed at this hub")
        return SiteRollout.from_bytes(value.value), value.sequence

    async def pause(self, deployment: str) -> SiteRollout:
        return await self._set_phase(deployment, "paused", "paused by the operator", allowed=("running",))

    async def resume(self, deployment: str) -> SiteRollout:
        return await self._set_phase(deployment, "running", "", allowed=("paused", "halted"))

    async def abort(self, deployment: str) -> SiteRollout:
        return await self._set_phase(
            deployment, "aborted", "aborted by the operator; updated devices stay on this version",
            allowed=("running", "paused", "halted"),
        )  # fmt: skip

    async def _set_phase(
        self, deployment: str, phase: RolloutPhase, reason: str, *, allowed: tuple[RolloutPhase, ...]
    ) -> SiteRollout:
        while True:
            rollout, revision = await self.rollout(deployment)
            if rollout.phase not in allowed:
                raise InvalidValueError(
                    f"rollout of {deployment}", rollout.phase,
                    f"a rollout that is {' or '.join(allowed)} (to make it {phase})",
                )  # fmt: skip
            updated = rollout.model_copy(update={"phase": phase, "reason": reason})
            if (await self._write(updated, revision, "set"))[0] == "set":
                return updated

    async def drive(
        self, deployment: str, *, on_progress: Callable[[DeploymentStatus, str], None] | None = None,
        timeout: float | None = None,
    ) -> SiteRollout:  # fmt: skip
        """Release waves until the rollout is done, halted, paused or aborted (or ``timeout`` passes)."""
        seen: dict[int, float] = {}
        start = time.monotonic()
        while True:
            view = await self.view()
            rollout, revision = await self.rollout(deployment)
            if rollout.phase != "running":
                return rollout
            waited = time.monotonic() - seen.setdefault(rollout.next_wave, time.monotonic())
            step, why = await self.advance(rollout, revision, view, waited=waited)
            if on_progress is not None:
                on_progress(aggregate(rollout, view.states.get(deployment, {}), view.online()), why)
            if step in ("halted", "done"):
                return (await self.rollout(deployment))[0]
            if timeout is not None and time.monotonic() - start > timeout:
                return rollout
            if step == "wait":
                await asyncio.sleep(self.poll)

    async def advance(self, rollout: SiteRollout, revision: int, view: SitesView, *, waited: float) -> tuple[str, str]:
        """One step: wait, halt, finish, or release the next wave (compare-and-set on the record)."""
        states = view.states.get(rollout.deployment, {})
        online = view.online()
        if rollout.next_wave:
            verdict, why = wave_verdict(rollout, states, online, waited=waited)
            if verdict == "wait":
                return "wait", why
            if verdict == "halt":
                return await self._write(
                    rollout.model_copy(update={"phase": "halted", "reason": why}), revision, "halted"
                )
        if rollout.next_wave >= len(rollout.waves):
            behind = _behind(rollout, states, view, waited=waited)
            if behind:
                since = ", ".join(
                    f"{s} (catching up)"
                    if view.reachable.get(s)
                    else f"{s} (unreachable since {_when(view.last_heard.get(s))})"
                    for s in behind
                )
                return "wait", f"waiting for site(s) {since}"
            done = rollout.model_copy(update={"phase": "done", "reason": "every wave settled"})
            return await self._write(done, revision, "done")
        wave = rollout.waves[rollout.next_wave]
        number = rollout.next_wave + 1
        released = rollout.model_copy(
            update={"next_wave": number, "starts": (*rollout.starts, WaveStart(wave=number, by="hub"))}
        )
        step, why = await self._write(released, revision, "released")
        if step == "released":
            payload = rollout.desired.encode()
            await asyncio.gather(
                *(
                    self.hub.publish(outbox_subject(rollout.site_of[d], f"{d}.{rollout.deployment}"), payload)
                    for d in wave
                )
            )
            why = f"wave {number}/{len(rollout.waves)} released to {len(wave)} device(s)"
        return step, why

    async def _write(self, rollout: SiteRollout, revision: int, step: str) -> tuple[str, str]:
        try:
            await self.hub.publish(
                f"$KV.{ROLLOUTS}.{rollout.deployment}", rollout.to_bytes(),
                headers={"Nats-Expected-Last-Subject-Sequence": str(revision)},
            )  # fmt: skip
        except KeyValueConflict:
            return "conflict", "the rollout record changed meanwhile"
        return step, rollout.reason


def _behind(
    rollout: SiteRollout, states: Mapping[str, DeploymentState], view: SitesView, *, waited: float
) -> list[str]:
    """Sites with targets that have not reported the version and that the hub cannot count out yet.

    A site is behind while it is unreachable (however long: it applies when the link returns), and, once
    reachable, while the hub has not heard from it within ``offline_after`` (its view is catching up) or a
    target there is online but has not reported yet, until the wave timeout (a reachable site whose devices
    are all down does not hold the rollout forever).
    """
    now = datetime.now(UTC)
    online = view.online()
    behind: set[str] = set()
    for device in rollout.targets:
        if _reported(states.get(device), rollout.version):
            continue
        site = rollout.site_of[device]
        heard = view.last_heard.get(site)
        stale = heard is None or (now - heard).total_seconds() >= view.offline_after
        in_flight = (stale or online.get(device, False)) and waited < rollout.strategy.wave_timeout
        if not view.reachable.get(site, False) or in_flight:
            behind.add(site)
    return sorted(behind)


def _reported(state: DeploymentState | None, version: str) -> bool:
    return state is not None and state.version == version and state.phase in ("running", "failed", "rejected")


def _heard(view: SitesView, site: str, value: StoredValue) -> None:
    if site not in view.last_heard or value.stored_at > view.last_heard[site]:
        view.last_heard[site] = value.stored_at


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "never heard"
