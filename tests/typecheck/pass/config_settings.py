"""Settings and secrets declared in code, resolved from the store, rendered into a secret-bearing file."""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import Field

from harmony import Port
from harmony.config import ConfigModel, ConfigSection, Secret
from harmony.config.wiring import load_config
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile


class Database(ConfigSection):
    host: str = Field(default="127.0.0.1", description="the database server")
    port: Port = Port(5432)
    password: Secret = Field(description="the app's database password")


class Settings(ConfigModel):
    database: Database
    debug: bool = False


def app_conf() -> ManagedFile:
    settings: Settings = load_config(Settings, deployment="shop", environment="prod")
    db = settings.database
    content = Secret.render(
        "dsn = postgresql://app:$pw@$host:$port/app\n", pw=db.password, host=db.host, port=str(db.port)
    )
    return ManagedFile(path=PurePosixPath("/etc/app.conf"), content=content, mode=FileMode("0600"))


def explicit(password: Secret) -> Database:
    return Database(password=password, port=Port(6432))


clear: str = explicit(Secret("x")).password.reveal()
