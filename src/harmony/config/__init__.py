"""Unified configuration and secrets: typed models in code ("schema in Git"), values in a store.

    class Database(ConfigSection):
        password: Secret = Field(description="the application's database password")

    class Settings(ConfigModel):
        database: Database

    settings = load_config(Settings, deployment="shop")      # env → file → store → team → prompt

This package holds the pure vocabulary (models, ``Secret``, the resolver and the store Protocol), so that
Scores can use ``Secret`` without pulling in any store. ``load_config`` and the default chain, which wire the
adapters from ``harmony.infra``, are in ``harmony.config.wiring``.
"""

from harmony.config.model import ConfigModel, ConfigSection
from harmony.config.resolve import Resolver
from harmony.domain.config_store import ConfigStore, Entry, Namespace
from harmony.domain.secret import MASK, Secret

__all__ = ["MASK", "ConfigModel", "ConfigSection", "ConfigStore", "Entry", "Namespace", "Resolver", "Secret"]
