"""Fixed: a rollout's canary share given as a percentage string instead of a share (0..1)."""

from __future__ import annotations

from harmony.fleet.rollout import Strategy

strategy = Strategy(canary=0.1, waves=3)
