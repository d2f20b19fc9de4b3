# fails: type check
"""A config model built without one of its required settings."""

from __future__ import annotations

from pydantic import Field

from harmony.config import ConfigSection, Secret


class Database(ConfigSection):
    host: str = "127.0.0.1"
    password: Secret = Field(description="the app's database password")


db = Database(host="db1")  # expect-error
