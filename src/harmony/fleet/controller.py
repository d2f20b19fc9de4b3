"""``harmony fleet serve``: the always-on controller that drives rollouts with nobody attached.

Several controllers may run; the one holding the lease (``harmony.fleet.lease``) drives every running
rollout through ``FleetControl.advance``, the same step the CLI's ``drive`` uses. Its tasks:

- ``lease``: every ``lease_timeout / 3`` write this controller's beat, read the lease, create, renew or take
  it over by compare-and-set (or follow its holder); a follower also ticks right when the lease it last saw
  goes stale, so it takes over from a dead holder at the timeout, not up to one interval later;
- ``driver``: while active, on every change of device states or rollouts (and at least every ``poll``),
  advance each running rollout as far as it goes; after taking over, first write any desired state its
  predecessor stored the release of but did not write (``ensure_released``);
- ``view``: rebuild the live view after NATS comes back (its watches died with the connection).

The active controller answers ``fleet.controller.status``, which is how the CLI knows it should record a
rollout and let the controller drive it. A wave's time (``wave_timeout``) is counted in store time: from
the stamp on this controller's beat when it first saw the wave in flight (after a takeover the wave gets
more time, never less). Not guaranteed: while NATS is unreachable nothing advances (the view keeps the
last values it saw, for the dashboard).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from harmony.agent.tasks import Supervisor
from harmony.domain.errors import KeyValueConflict, KeyValueError
from harmony.fleet.control import FleetControl, FleetView
from harmony.fleet.lease import (
    ACTIVE_SHARE,
    LEASE_KEY,
    ControllerBeat,
    Lease,
    beat_key,
    expires_in,
    lease_move,
    next_lease,
)
from harmony.fleet.records import BUCKETS, CONTROLLER, CONTROLLER_STATUS, REPUBLISHED, check_token
from harmony.fleet.rollout import Rollout
from harmony.infra.nats import NatsConnection, NatsOptions, Serving

log = logging.getLogger("harmony.fleet.controller")

STALE_MARGIN = 0.02
"""Seconds after the computed lapse at which a follower looks again (the beat must be stamped after it)."""


@dataclass(frozen=True)
class ControllerSettings:
    lease_timeout: float = 5.0
    poll: float = 0.5
    offline_after: float = 15.0
    dashboard: str = ""  # the dashboard's URL, shown to other controllers' dashboards


class Controller:
    """One ``fleet serve`` controller. ``connect`` waits for NATS as long as it takes."""

    def __init__(self, name: str, settings: ControllerSettings) -> None:
        self.name = check_token("controller", name)
        self.settings = settings
        self.control: FleetControl | None = None
        self.view: FleetView | None = None
        self.term = 0
        self.lease_line = "not connected to NATS yet"
        self.store_now: datetime | None = None
        self._holding = False
        self._renew_started = 0.0
        self._stale_at: float | None = None  # monotonic time the lease this follower saw goes stale
        self._ensured: set[tuple[str, str]] = set()
        self._wave_seen: dict[tuple[str, str, int], datetime] = {}
        self._status_sub: Serving | None = None
        self._view_stale = asyncio.Event()
        self._tasks = Supervisor(owner="fleet-controller")

    @property
    def connected(self) -> bool:
        return self.control is not None and self.control.bus.connected

    def is_active(self) -> bool:
        """Holding the lease, and its last renewal started recently enough that no rival can have it yet."""
        return self._holding and time.monotonic() - self._renew_started < ACTIVE_SHARE * self.settings.lease_timeout

    async def connect(self, options: NatsOptions) -> FleetControl:
        async def reconnected() -> None:
            self._view_stale.set()

        bus = await NatsConnection.connect(options, on_reconnect=reconnected, wait_for_server=True)
        for bucket in BUCKETS:
            await bus.ensure_bucket(bucket, republish=REPUBLISHED.get(bucket))
        self.control = FleetControl(bus, offline_after=self.settings.offline_after)
        view = FleetView(bus, offline_after=self.settings.offline_after, everything=True)
        await view.start()
        self.view = view
        return self.control

    async def run(self, options: NatsOptions, stop: asyncio.Event) -> None:
        """Connect, then lead or follow until ``stop`` is set (or a task crashes, which is re-raised)."""
        connecting = asyncio.create_task(self.connect(options))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([connecting, stopped], return_when=asyncio.FIRST_COMPLETED)
        if not connecting.done():
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            return
        connecting.result()
        self._tasks.start("lease", self._lease_loop)
        self._tasks.start("driver", self._drive_loop)
        self._tasks.start("view", self._view_loop)
        failed = asyncio.create_task(self._tasks.failed.wait())
        await asyncio.wait([stopped, failed], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        failed.cancel()
        await self.close()

    async def close(self) -> None:
        try:
            await self._tasks.stop_all()
        finally:
            self._holding = False
            if self.view is not None and self.connected:  # else its consumers expire by themselves
                with contextlib.suppress(KeyValueError):
                    await self.view.stop()
            if self.control is not None:
                await self.control.bus.close()

    # -- the lease -------------------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        interval = self.settings.lease_timeout / 3
        while True:
            started = time.monotonic()
            self._stale_at = None
            await self.lease_tick()
            wake = started + interval
            if self._stale_at is not None:  # following: look again the moment the holder's lease lapses
                wake = min(wake, self._stale_at + STALE_MARGIN)
            await asyncio.sleep(max(0.0, wake - time.monotonic()))

    async def lease_tick(self) -> None:
        assert self.control is not None
        bus = self.control.bus
        started = time.monotonic()
        beat = ControllerBeat(
            controller=self.name, active=self.is_active(), term=self.term, dashboard=self.settings.dashboard
        )
        try:
            await bus.bucket(CONTROLLER).publish(beat_key(self.name), beat.to_bytes())
            mine = await bus.bucket(CONTROLLER).get(beat_key(self.name))
            found = await bus.bucket(CONTROLLER).get(LEASE_KEY)
            if mine is None:
                raise KeyValueError(beat_key(self.name), "this controller's beat vanished right after it was written")
            lease = Lease.from_bytes(found.value) if found is not None else None
            move, why = lease_move(
                self.name, lease, found.stored_at if found else None, now=mine.stored_at,
                timeout=self.settings.lease_timeout,
            )  # fmt: skip
            self.store_now = mine.stored_at
            if move == "follow":
                if found is not None:
                    left = expires_in(found.stored_at, now=mine.stored_at, timeout=self.settings.lease_timeout)
                    self._stale_at = time.monotonic() + max(0.0, left)
                await self._follow(why)
                return
            record = next_lease(self.name, move, lease)
            await bus.bucket(CONTROLLER).publish(
                LEASE_KEY, record.to_bytes(), expected_revision=found.revision if found else 0
            )
        except KeyValueConflict:
            await self._follow("another controller moved the lease first")
            return
        except KeyValueError as e:
            self.lease_line = f"cannot reach the lease: {e}"
            log.warning("%s: %s", self.name, self.lease_line)
            return  # ``is_active`` runs out by itself if this lasts
        await self._lead(record, started, why)

    async def _lead(self, lease: Lease, started: float, why: str) -> None:
        assert self.control is not None
        if not self._holding:
            log.info("%s: active: %s", self.name, why)
            self._ensured.clear()  # a predecessor may have left released waves without desired state
            self._status_sub = await self.control.bus.serve(CONTROLLER_STATUS, self._answer_status)
        self._holding = True
        self.term = lease.term
        self._renew_started = started
        self.lease_line = f"holding the lease, term {lease.term}"

    async def _follow(self, why: str) -> None:
        if self._holding:
            log.warning("%s: standing down: %s", self.name, why)
        self._holding = False
        self.lease_line = why
        if self._status_sub is not None:
            await self._status_sub.stop()
            self._status_sub = None

    async def _answer_status(self, _subject: str, _payload: bytes) -> bytes:
        status = {"controller": self.name, "active": self.is_active(), "term": self.term}
        return json.dumps({**status, "dashboard": self.settings.dashboard}).encode()

    # -- driving ---------------------------------------------------------------------------------------

    async def _drive_loop(self) -> None:
        while True:
            view = self.view
            assert view is not None
            view.changed.clear()
            if self.is_active():
                for deployment, (rollout, _) in sorted(view.rollouts.items()):
                    if rollout.phase == "running":
                        try:
                            await self.drive_once(deployment, rollout, view)
                        except KeyValueError as e:
                            log.warning("%s: %s: %s", self.name, deployment, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(view.changed.wait(), self.settings.poll)
            await asyncio.sleep(0.01)  # let a burst of reports land before looking again

    async def drive_once(self, deployment: str, rollout: Rollout, view: FleetView) -> None:
        """Advance one rollout as far as it goes now (several steps when waves settle at once)."""
        assert self.control is not None
        key = (deployment, rollout.version)
        if key not in self._ensured:
            written = await self.control.ensure_released(deployment)
            if written:
                log.info("%s: %s: wrote the desired state of %d released device(s)", self.name, deployment, written)
            self._ensured.add(key)
        for _ in range(len(rollout.waves) + 2):
            if not self.is_active():
                return
            _, step, why = await self.control.advance(deployment, view, waited=self._waited, by=self.name)
            if step in ("released", "halted", "done"):
                log.info("%s: %s: %s: %s", self.name, deployment, step, why)
            if step != "released":
                return

    def _waited(self, rollout: Rollout) -> float:
        """Store seconds since this controller first saw the rollout's current wave in flight."""
        if self.store_now is None:
            return 0.0
        first = self._wave_seen.setdefault((rollout.deployment, rollout.version, rollout.next_wave), self.store_now)
        return (self.store_now - first).total_seconds()

    # -- the view --------------------------------------------------------------------------------------

    async def _view_loop(self) -> None:
        """After a reconnect, build a new view (its watches replay), swap it in, drop the old one."""
        assert self.control is not None
        while True:
            await self._view_stale.wait()
            self._view_stale.clear()
            try:
                view = FleetView(self.control.bus, offline_after=self.settings.offline_after, everything=True)
                await view.start()
            except KeyValueError as e:
                log.warning("%s: rebuilding the view failed (%s); retrying", self.name, e)
                self._view_stale.set()
                await asyncio.sleep(1)
                continue
            old, self.view = self.view, view
            if old is not None:
                with contextlib.suppress(KeyValueError):
                    await old.stop()
