"""The composition root of configuration: which sources, in which order, from the process environment.

    HARMONY_ENV                     environment of the namespace (default ``default``)
    HARMONY_CONFIG_<KEY>            a setting (``HARMONY_CONFIG_DATABASE__PASSWORD``)
    HARMONY_CONFIG_FILE             the local TOML file (default ``./harmony-config.toml``; may be absent)
    HARMONY_CONFIG_STORE            the embedded store (default ``<user data dir>/harmony/config.sqlite3``)
    HARMONY_CONFIG_KEY              its key file (default ``<user config dir>/harmony/config.key``)
    HARMONY_BAO_ADDR                the team store (OpenBao/Vault); unset: no team store
    HARMONY_BAO_TOKEN               token auth, or HARMONY_BAO_ROLE_ID + HARMONY_BAO_SECRET_ID for AppRole
    HARMONY_BAO_MOUNT, _PREFIX      kv-v2 mount (``secret``) and path prefix (``harmony``)
    HARMONY_NONINTERACTIVE=1, CI    never prompt

Resolution order: env → local file → embedded store → team store → prompt (terminal only; answers are
saved to the embedded store). The prompt comes last, after the team store, so that a team member is never
asked for a value the team store already holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs
from pydantic import BaseModel

from harmony.config import declared
from harmony.config.prompt import TerminalPrompt, interactive
from harmony.config.resolve import Resolver
from harmony.config.sources import EnvSource, FileSource, Source, StoreSource
from harmony.domain.config_store import ConfigStore, Namespace
from harmony.domain.errors import ConfigError
from harmony.domain.secret import Secret
from harmony.domain.values import url_without_credentials
from harmony.infra.embedded_store import EmbeddedStore

EMBEDDED_HOW = "`harmony {verb} set {key} -d {deployment} -e {environment}`"
TEAM_HOW = "`harmony {verb} set {key} --team -d {deployment} -e {environment}`"


def namespace(deployment: str, environment: str | None = None, environ: Mapping[str, str] | None = None) -> Namespace:
    env = os.environ if environ is None else environ
    return Namespace(deployment=deployment, environment=environment or env.get("HARMONY_ENV") or "default")


def _store_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("HARMONY_CONFIG_STORE") or str(Path(platformdirs.user_data_dir("harmony")) / "config.sqlite3"))


def declared_directory(environ: Mapping[str, str] | None = None) -> Path:
    """Where the secret keys each deployment's model declares are recorded (beside the embedded store)."""
    return _store_path(os.environ if environ is None else environ).parent / "declared"


def embedded_store(environ: Mapping[str, str] | None = None) -> EmbeddedStore:
    env = os.environ if environ is None else environ
    key = env.get("HARMONY_CONFIG_KEY") or str(Path(platformdirs.user_config_dir("harmony")) / "config.key")
    return EmbeddedStore(_store_path(env), Path(key))


def team_store(environ: Mapping[str, str] | None = None) -> ConfigStore | None:
    """The OpenBao/Vault store named by ``HARMONY_BAO_*``, or ``None`` when ``HARMONY_BAO_ADDR`` is unset."""
    env = os.environ if environ is None else environ
    url = env.get("HARMONY_BAO_ADDR")
    if not url:
        return None
    from harmony.infra.openbao import AppRoleAuth, OpenBaoStore, TokenAuth  # hvac only when a team store is used

    token, role_id, secret_id = (
        env.get("HARMONY_BAO_TOKEN"),
        env.get("HARMONY_BAO_ROLE_ID"),
        env.get("HARMONY_BAO_SECRET_ID"),
    )
    if token:
        auth: TokenAuth | AppRoleAuth = TokenAuth(Secret(token))
    elif role_id and secret_id:
        auth = AppRoleAuth(role_id=role_id, secret_id=Secret(secret_id))
    else:
        raise ConfigError(
            f"HARMONY_BAO_ADDR={url_without_credentials(url)} is set but no credentials are: set HARMONY_BAO_TOKEN, "
            "or HARMONY_BAO_ROLE_ID and HARMONY_BAO_SECRET_ID for AppRole"
        )
    return OpenBaoStore(
        url,
        auth=auth,
        mount=env.get("HARMONY_BAO_MOUNT") or "secret",
        prefix=env.get("HARMONY_BAO_PREFIX") or "harmony",
    )


def sources(environ: Mapping[str, str] | None = None, *, store: EmbeddedStore | None = None) -> list[Source]:
    """The non-interactive chain: env → local file → embedded store → team store (when configured)."""
    env = os.environ if environ is None else environ
    chain: list[Source] = [
        EnvSource(env),
        FileSource(Path(env.get("HARMONY_CONFIG_FILE") or "harmony-config.toml")),
        StoreSource(store or embedded_store(env), how_to_set=EMBEDDED_HOW),
    ]
    team = team_store(env)
    if team is not None:
        chain.append(StoreSource(team, how_to_set=TEAM_HOW))
    return chain


def resolver(ns: Namespace, *, ask: bool | None = None, environ: Mapping[str, str] | None = None) -> Resolver:
    """The default chain for ``ns``, then the prompt when ``ask`` (default: whether this run is on a terminal)."""
    store = embedded_store(environ)
    ask = interactive() if ask is None else ask
    return Resolver(ns, sources(environ, store=store), prompter=TerminalPrompt() if ask else None, save_to=store)


def load_config[M: BaseModel](model: type[M], *, deployment: str, environment: str | None = None) -> M:
    """Resolve ``model`` for ``deployment`` (and ``environment``, default ``$HARMONY_ENV`` or ``default``).

    Raises ``MissingConfigError`` listing every missing key and where it could come from, ``ConfigTypeError``
    naming the key, the source and the expected type, or the ``ConfigStoreError`` of a store that cannot answer.
    """
    ns = namespace(deployment, environment)
    declared.remember(declared_directory(), ns, model)  # so that `harmony config set` refuses its secrets
    return resolver(ns).resolve(model)
