"""An app's database password and API token, taken from Harmony's configuration system.

The settings are declared below (schema in Git); their values come from the environment, a local file, the
embedded store, OpenBao, or a prompt on the terminal that is asked once (state in the store):

    HARMONY_CONFIG_DATABASE__PASSWORD=… HARMONY_CONFIG_API__TOKEN=… harmony apply examples/secrets_deploy --yes
    harmony secret set database.password -d secrets_deploy           # or answer the prompt once
    HARMONY_BAO_ADDR=http://127.0.0.1:8200 HARMONY_BAO_TOKEN=… harmony plan examples/secrets_deploy

They are rendered into ``/etc/app/app.conf`` (mode 0600) under the sandbox root ``$HARMONY_SECRETS_ROOT``
(default ``.harmony/secrets-root``); plans, ``--json`` output and the journal show the secrets masked.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from pydantic import Field

from harmony import Deployment, Port
from harmony.config import ConfigModel, ConfigSection, Secret
from harmony.config.wiring import load_config
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost


class Database(ConfigSection):
    host: str = Field(default="127.0.0.1", description="the database server")
    port: Port = Field(default=Port(5432), description="its port")
    name: str = Field(default="app", description="the database name")
    password: Secret = Field(description="the app's database password")


class Api(ConfigSection):
    url: str = Field(default="https://api.example.invalid/v1", description="the API the app calls")
    token: Secret = Field(description="the API token the app calls with")


class Settings(ConfigModel):
    database: Database
    api: Api


TEMPLATE = """\
[database]
url = postgresql://app:${db_password}@${db_host}:${db_port}/${db_name}

[api]
url = ${api_url}
token = ${api_token}
"""

settings = load_config(Settings, deployment="secrets_deploy")
root = Path(os.environ.get("HARMONY_SECRETS_ROOT", ".harmony/secrets-root")).absolute()

deployment = Deployment(
    topology=LinuxHost.local(root=root, create_root=True),
    scores=[
        ManagedDirectory(path=PurePosixPath("/etc"), mode=FileMode("0755")),
        ManagedDirectory(path=PurePosixPath("/etc/app"), mode=FileMode("0700")),
        ManagedFile(
            path=PurePosixPath("/etc/app/app.conf"),
            content=Secret.render(
                TEMPLATE,
                db_password=settings.database.password,
                db_host=settings.database.host,
                db_port=str(settings.database.port),
                db_name=settings.database.name,
                api_url=settings.api.url,
                api_token=settings.api.token,
            ),
            mode=FileMode("0600"),
        ),
    ],
)
