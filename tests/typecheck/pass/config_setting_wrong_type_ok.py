"""Fixed: a setting given a value of the wrong type: a str where the model declares a ``Port``."""

from __future__ import annotations

from harmony import Port
from harmony.config import ConfigSection, Secret


class Database(ConfigSection):
    port: Port = Port(5432)
    password: Secret


db = Database(port=Port(5432), password=Secret("x"))
