# fails: type check
"""A rollout's canary share given as a percentage string instead of a share (0..1)."""

from __future__ import annotations

from harmony.fleet.rollout import Strategy

strategy = Strategy(canary="10%", waves=3)  # expect-error
