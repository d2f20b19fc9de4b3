"""The controllers' lease as a table: one look at the lease and the store's clock in, one move out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harmony.fleet.lease import Lease, LeaseMove, expires_in, lease_move, next_lease

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lease", "age", "move"),
    [
        (None, 0.0, "create"),
        (Lease(holder="me", term=3), 0.5, "renew"),
        (Lease(holder="me", term=3), 60.0, "renew"),  # mine, however old: renew (CAS decides)
        (Lease(holder="other", term=3), 1.0, "follow"),
        (Lease(holder="other", term=3), 5.0, "follow"),  # exactly the timeout: not yet
        (Lease(holder="other", term=3), 5.01, "take-over"),
        (Lease(holder="other", term=3), -0.3, "follow"),  # stamps of another store node, a bit ahead
    ],
)
def test_lease_move(lease: Lease | None, age: float, move: LeaseMove) -> None:
    stored = None if lease is None else T0
    got, why = lease_move("me", lease, stored, now=T0 + timedelta(seconds=age), timeout=5.0)
    assert got == move, why
    assert why


def test_next_lease_keeps_the_term_on_renewal_and_increments_it_on_a_change_of_hands() -> None:
    held = Lease(holder="me", term=3)
    assert next_lease("me", "renew", held) == held
    assert next_lease("me", "take-over", Lease(holder="other", term=3)) == Lease(holder="me", term=4)
    assert next_lease("me", "create", None) == Lease(holder="me", term=1)


@pytest.mark.parametrize(("age", "left"), [(0.0, 5.0), (1.5, 3.5), (5.0, 0.0), (6.0, -1.0), (-0.5, 5.5)])
def test_a_follower_knows_when_the_lease_it_saw_goes_stale(age: float, left: float) -> None:
    assert expires_in(T0, now=T0 + timedelta(seconds=age), timeout=5.0) == pytest.approx(left)
    # at that moment, and not before, the move is a take-over
    after = T0 + timedelta(seconds=age + max(left, 0) + 0.01)
    assert lease_move("me", Lease(holder="other", term=1), T0, now=after, timeout=5.0)[0] == "take-over"
