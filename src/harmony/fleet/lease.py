"""Which of several ``harmony fleet serve`` controllers drives rollouts: a lease in NATS KV. Pure: no I/O.

The lease is one key (``fleet_controller.lease``) changed only by compare-and-create or compare-and-set on
its revision, so two controllers can never both win the same move. Time enters only as the store's stamps,
as in the failover agent (``harmony.agent.decide``): each tick a controller writes its own beat and reads
the store's stamp on it; the lease is stale when that stamp is more than ``timeout`` seconds after the
stamp of the lease's last renewal. The holder renews every ``timeout / 3``; a follower ticks at that pace
too, and also right when the lease it saw would go stale (``expires_in``), so a dead holder is replaced
within a few milliseconds of the timeout rather than on the follower's next regular tick.

What holds: a controller acts only while its last successful renewal *started* less than
``ACTIVE_SHARE x timeout`` ago on its own monotonic clock, and a rival takes over only ``timeout`` after that
renewal was stored, so a holder cut off from NATS has stopped acting before anyone else starts. Even if two
believed themselves active, every wave start is a compare-and-set on the rollout record (see
``FleetControl.advance``): a wave is released once. Not guaranteed: clocks that run at very different
rates break the first property (not the second).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from harmony.fleet.records import Record

LEASE_KEY = "lease"
ACTIVE_SHARE = 0.8

type LeaseMove = Literal["create", "renew", "take-over", "follow"]


class Lease(Record):
    """The active controller and its term (incremented at each change of hands)."""

    holder: str
    term: int = Field(ge=1)


class ControllerBeat(Record):
    """What each controller writes every tick: its clock source, and what the dashboard lists."""

    controller: str
    active: bool
    term: int
    dashboard: str = ""


def beat_key(controller: str) -> str:
    return f"beat.{controller}"


def lease_move(
    me: str, lease: Lease | None, lease_stored_at: datetime | None, *, now: datetime, timeout: float
) -> tuple[LeaseMove, str]:
    """The move this tick and why, in one line. ``now``: the store's stamp on this controller's own beat."""
    if lease is None or lease_stored_at is None:
        return "create", "no lease yet; creating it"
    if lease.holder == me:
        return "renew", f"holding the lease (term {lease.term}); renewing"
    stale = (now - lease_stored_at).total_seconds()
    if stale > timeout:
        return "take-over", f"{lease.holder}'s lease (term {lease.term}) stale for {stale:.2f}s > {timeout:g}s"
    return "follow", f"{lease.holder} holds the lease (term {lease.term}), renewed {max(stale, 0):.2f}s ago"


def expires_in(lease_stored_at: datetime, *, now: datetime, timeout: float) -> float:
    """Store seconds from ``now`` until a lease stored at ``lease_stored_at`` is stale (negative: it is)."""
    return timeout - (now - lease_stored_at).total_seconds()


def next_lease(me: str, move: LeaseMove, lease: Lease | None) -> Lease:
    """The record this move writes: the same term on a renewal, the next term on a change of hands."""
    if move == "renew" and lease is not None:
        return lease
    return Lease(holder=me, term=(lease.term + 1) if lease is not None else 1)
