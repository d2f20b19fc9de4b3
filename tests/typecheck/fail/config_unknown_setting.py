# fails: type check
"""Reading a setting the config model does not declare (a typo) instead of getting None at run time."""

from __future__ import annotations

from harmony.config import ConfigModel, ConfigSection, Secret


class Database(ConfigSection):
    password: Secret


class Settings(ConfigModel):
    database: Database


def password_of(settings: Settings) -> Secret:
    return settings.database.pasword  # expect-error
