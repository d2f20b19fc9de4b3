# fails: type check
"""A secret passed on where a plain str is expected: it must be revealed on purpose, not by accident."""

from __future__ import annotations

from harmony.config import ConfigModel, ConfigSection, Secret


class Database(ConfigSection):
    password: Secret


class Settings(ConfigModel):
    database: Database


def connect(dsn_password: str) -> None: ...


def start(settings: Settings) -> None:
    connect(settings.database.password)  # expect-error
    connect(settings.database.password.reveal())
