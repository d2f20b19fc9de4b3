"""The agent's tick loop: read one snapshot, decide, log and journal the decision, act.

Subsystems run as named guarded tasks: ``tick`` (heartbeat + decision every ``heartbeat_interval``) and
``fence-watchdog`` (fences a serving primary ``heartbeat_timeout x failure_threshold`` after the start of
its last good heartbeat, even while a tick is stuck in a slow call). The watchdog uses the local monotonic
clock only to bound this node's own fencing; nothing is ever compared with another node's clock.

Shutdown (SIGTERM, SIGINT or ``stop()``): cancel the tasks, stop the local server (a primary must not run
without its agent; a standby's peer will take over), close the mesh connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Sequence
from datetime import datetime

from harmony.agent.config import AgentConfig
from harmony.agent.decide import Action, Decision, LocalHealth, Memory, Snapshot, decide, status_of
from harmony.agent.journal import AgentJournal
from harmony.agent.metrics import FailoverMetrics
from harmony.agent.ports import LocalDatabase
from harmony.agent.records import (
    ClusterState,
    Heartbeat,
    Stamped,
    events_key,
    heartbeat_key,
    stamped,
    state_key,
)
from harmony.agent.tasks import Supervisor
from harmony.domain.capabilities.key_value import Entry, KeyValueStore
from harmony.domain.errors import CapabilityError, KeyValueConflict, KeyValueError

log = logging.getLogger("harmony.agent")


class Agent:
    def __init__(self, config: AgentConfig, *, store: KeyValueStore, db: LocalDatabase) -> None:
        self.config = config
        self.store = store
        self.db = db
        self.journal = AgentJournal(config.state_dir, cluster=config.cluster)
        self.memory = Memory()
        self.last: tuple[Snapshot, Decision] | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._fence_deadline: float | None = None
        self.metrics = FailoverMetrics()
        self._tasks = Supervisor(owner=config.node_id, on_crash=self.metrics.task_crashed)

    # -- lifecycle -------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        if self.config.metrics is not None:
            m = self.config.metrics
            port = self.metrics.endpoint.start(port=m.port, host=m.host)
            log.info("%s: metrics on http://%s:%d/metrics", self.config.node_id, m.host, port)
        try:
            await self.db.adopt()
            await self._restore()
            self._tasks.start("tick", self._tick_loop)
            # the watchdog is what makes a stuck tick safe: without it the agent must not go on
            self._tasks.start("fence-watchdog", self._watchdog, restart=False)
            stop = asyncio.create_task(self._stop.wait())
            failed = asyncio.create_task(self._tasks.failed.wait())
            await asyncio.wait([stop, failed], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            failed.cancel()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            log.info("%s: shutting down", self.config.node_id)
            try:
                await self._tasks.stop_all()
            finally:
                await self.db.stop()
                self.journal.note(self.config.node_id, "shutdown", "agent stopped; local server stopped")
                self.metrics.endpoint.stop()

    async def _restore(self) -> None:
        """Pick up where a previous run left off: heartbeat sequence and the primary's last sign of life."""
        c = self.config
        try:
            mine = await self.store.get(heartbeat_key(c.cluster, c.node_id))
            state = await self.store.get(state_key(c.cluster))
            my_last = stamped(Heartbeat, mine) if mine else None
            seq = my_last.record.seq if my_last else 0
            last_serving = None
            if my_last is not None:
                serving = my_last.record.status == "serving"
                last_serving = my_last.stored_at if serving else my_last.record.last_serving
            alive_of, alive_at = None, None
            if state is not None:
                primary = stamped(ClusterState, state).record.primary
                if primary != c.node_id:
                    history = await self.store.history(heartbeat_key(c.cluster, primary))
                    alive_of, alive_at = primary, last_sign_of_life(history)
            self.memory = self.memory.model_copy(
                update={"seq": seq, "alive_of": alive_of, "primary_alive_at": alive_at, "my_last_serving": last_serving}
            )
            log.info("%s: restored seq %d, primary %s last alive %s", c.node_id, seq, alive_of, alive_at)
        except KeyValueError as e:
            log.warning("%s: could not restore from the mesh (%s); starting fresh and fenced", c.node_id, e)

    # -- the tick --------------------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.timing.heartbeat_interval
        while not self._stop.is_set():
            started = loop.time()
            await self.tick()
            await asyncio.sleep(max(0.0, started + interval - loop.time()))

    async def tick(self) -> Decision:
        c, t = self.config, self.config.timing
        started = asyncio.get_running_loop().time()
        local = await self.db.health(timeout=t.heartbeat_timeout)
        snapshot = await self._observe(local)
        async with self._lock:
            if snapshot.memory is not self.memory:  # the watchdog fenced while we were observing
                snapshot = snapshot.model_copy(update={"memory": self.memory})
            decision = decide(snapshot)
            self.memory = decision.memory
            self.last = (snapshot, decision)
            if decision.action is Action.NONE:
                log.debug(decision.line(c.node_id))
            else:
                log.info(decision.line(c.node_id))
            await self._act(snapshot, decision)
            self.journal.record(snapshot, decision, self.memory)  # after acting: "fenced" in the status means fenced
            self.metrics.tick(
                heartbeat_ok=snapshot.my_beat is not None,
                fenced=self.memory.fenced,
                primary=snapshot.local.role == "primary" and not self.memory.fenced,
            )
        serving = (
            snapshot.nats_ok
            and snapshot.local.role == "primary"
            and not self.memory.fenced
            and snapshot.state is not None
            and snapshot.state.record.primary == c.node_id
        )
        if serving:
            self._fence_deadline = started + t.heartbeat_timeout * t.failure_threshold
        elif self.memory.fenced or snapshot.local.role != "primary":
            self._fence_deadline = None
        return decision

    async def _observe(self, local: LocalHealth) -> Snapshot:
        c = self.config
        beat = Heartbeat(
            seq=self.memory.seq + 1,
            t=round(time.time(), 3),
            crashes=self._tasks.crashes,
            down=tuple(self._tasks.unhealthy()),
            node=c.node_id,
            status=status_of(local, self.memory),
            endpoint=self.db.endpoint,
            last_serving=self.memory.my_last_serving,
        )
        my_beat: Stamped[Heartbeat] | None = None
        state: Stamped[ClusterState] | None = None
        peers: dict[str, Stamped[Heartbeat]] = {}
        nats_ok = True
        try:
            my_beat = stamped(Heartbeat, await self.store.put(heartbeat_key(c.cluster, c.node_id), beat.to_bytes()))
            entries = await asyncio.gather(
                self.store.get(state_key(c.cluster)), *(self.store.get(heartbeat_key(c.cluster, p)) for p in c.peers)
            )
            state = stamped(ClusterState, entries[0]) if entries[0] else None
            peers = {p: stamped(Heartbeat, e) for p, e in zip(c.peers, entries[1:], strict=True) if e is not None}
        except KeyValueError as e:
            nats_ok = False
            log.debug("%s: mesh: %s", c.node_id, e)
        return Snapshot(
            node=c.node_id,
            initial_role=c.initial_role,
            peers=c.peers,
            timing=c.timing,
            local=local,
            nats_ok=nats_ok,
            my_beat=my_beat,
            state=state,
            peer_beats=peers,
            memory=self.memory,
        )

    # -- acting ----------------------------------------------------------------------------------------

    async def _act(self, s: Snapshot, d: Decision) -> None:
        try:
            await self._do(s, d)
        except KeyValueConflict as e:
            self._note("lost-race", f"{d.action.value}: {e}")
        except CapabilityError as e:
            self._note("action-failed", f"{d.action.value}: {e}")
        if d.action is not Action.NONE:
            await self._publish_event(s, d)

    async def _do(self, s: Snapshot, d: Decision) -> None:
        c, state = self.config, s.state
        match d.action:
            case Action.NONE:
                return
            case Action.FENCE:
                await self.db.fence(timeout=self.config.timing.heartbeat_timeout)
            case Action.BOOTSTRAP:
                record = ClusterState(primary=c.node_id, epoch=1, endpoint=self.db.endpoint, reason=d.reason)
                await self._gated_start(s)
                await self.store.create(state_key(c.cluster), record.model_dump_json().encode())
                await self._serve()
            case Action.RECLAIM:
                assert state is not None
                record = state.record.model_copy(update={"epoch": state.record.epoch + 1, "reason": d.reason})
                await self._gated_start(s)
                await self._cas(state, record)
                await self._serve()
            case Action.PROMOTE:
                assert state is not None
                record = ClusterState(
                    primary=c.node_id, epoch=state.record.epoch + 1, endpoint=self.db.endpoint, reason=d.reason
                )
                await self._cas(state, record)
                await self.db.promote()
                self._unfence()
                self.metrics.promoted(old_primary=state.record.primary, new_primary=c.node_id)
            case Action.FINISH_PROMOTION:
                await self.db.promote()
                self._unfence()
            case Action.REJOIN:
                assert state is not None
                how = await self.db.rejoin(state.record.endpoint)
                self._note("rejoined", how)
                await self.db.start()
                self._unfence()
            case Action.START_STANDBY:
                if state is not None:
                    await self.db.follow(state.record.endpoint)
                await self.db.start()
                self._unfence()
            case Action.REQUIRE_SYNC:
                assert d.peer is not None
                await self.db.require_sync(d.peer)
            case Action.PUBLISH_SYNC:
                assert state is not None
                assert d.peer is not None
                await self._cas(state, state.record.model_copy(update={"sync_standby": d.peer, "reason": d.reason}))

    async def _gated_start(self, s: Snapshot) -> None:
        """Start the server reachable by this agent only: slow crash recovery happens before the
        compare-and-set, so the state is claimed only when the server can serve at once."""
        if s.local.role != "primary":
            await self.db.start(gated=True)

    async def _serve(self) -> None:
        await self.db.open_to_clients()
        self._unfence()

    def _unfence(self) -> None:
        self.memory = self.memory.model_copy(update={"fenced": False, "fence_reason": None, "failures": 0})

    async def _cas(self, state: Stamped[ClusterState], record: ClusterState) -> None:
        await self.store.update(
            state_key(self.config.cluster), record.model_dump_json().encode(), expected_revision=state.revision
        )

    async def _publish_event(self, s: Snapshot, d: Decision) -> None:
        c = self.config
        event = {"node": c.node_id, "action": d.action.value, "reason": d.reason, "seq": s.memory.seq + 1}
        with contextlib.suppress(KeyValueError):  # the local journal has it; the mesh copy is for post-mortems
            await self.store.put(events_key(c.cluster, c.node_id), json.dumps(event).encode())

    def _note(self, action: str, reason: str) -> None:
        log.warning("%s: %s: %s", self.config.node_id, action, reason)
        self.journal.note(self.config.node_id, action, reason)

    # -- the watchdog ----------------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = self._fence_deadline
            if deadline is None:
                await asyncio.sleep(self.config.timing.heartbeat_interval / 4)
                continue
            if loop.time() < deadline:
                await asyncio.sleep(min(deadline - loop.time(), self.config.timing.heartbeat_interval / 4))
                continue
            async with self._lock:
                if self._fence_deadline is None or loop.time() < self._fence_deadline:
                    continue
                t = self.config.timing
                reason = f"no good heartbeat for {t.heartbeat_timeout * t.failure_threshold:g}s (watchdog); fencing"
                log.warning("%s: fence: %s", self.config.node_id, reason)
                await self.db.fence(timeout=self.config.timing.heartbeat_timeout)
                self.journal.note(self.config.node_id, "fence", reason)
                self.metrics.fenced()
                self.memory = self.memory.model_copy(update={"fenced": True, "fence_reason": "mesh", "successes": 0})
                self._fence_deadline = None


def last_sign_of_life(history: Sequence[Entry]) -> datetime | None:
    """The stamp of the newest ``serving`` heartbeat kept, else of the oldest kept (a conservative bound)."""
    for entry in reversed(history):
        beat = stamped(Heartbeat, entry)
        if beat.record.status == "serving":
            return entry.stored_at
        if beat.record.last_serving is not None:
            return beat.record.last_serving
    return history[0].stored_at if history else None
