# fails: type check
"""A plain str given where a setting is typed ``Secret``: the value would be printable everywhere."""

from __future__ import annotations

from pydantic import Field

from harmony.config import ConfigSection, Secret


class Database(ConfigSection):
    host: str = "127.0.0.1"
    password: Secret = Field(description="the app's database password")


db = Database(password="hunter2")  # expect-error
