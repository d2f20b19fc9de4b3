# fails: type check
"""``load_config`` given something that is not a config model."""

from __future__ import annotations

from harmony.config.wiring import load_config


def settings() -> None:
    load_config(dict, deployment="shop")  # expect-error
