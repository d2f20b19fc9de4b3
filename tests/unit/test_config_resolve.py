"""The resolution chain: first hit wins, values are validated per key and source, and a missing value is one
error listing every key and where it could come from — never a prompt without a terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from harmony import Port
from harmony.config import MASK, ConfigModel, ConfigSection, Namespace, Secret
from harmony.config.resolve import Resolver
from harmony.config.sources import EnvSource, FileSource, StoreSource, env_var
from harmony.config.wiring import EMBEDDED_HOW, load_config, resolver
from harmony.domain.errors import ConfigTypeError, CorruptEntryError, MissingConfigError
from harmony.infra.embedded_store import EmbeddedStore

NS = Namespace("shop", "prod")


class Database(ConfigSection):
    host: str = Field(default="127.0.0.1", description="database server")
    port: Port = Port(5432)
    password: Secret = Field(description="the app's database password")


class Api(ConfigSection):
    token: Secret
    retries: int = 3


class Settings(ConfigModel):
    database: Database
    api: Api
    debug: bool = False


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "data" / "config.sqlite3", tmp_path / "conf" / "config.key")


def chain(store: EmbeddedStore, env: dict[str, str], toml: Path) -> list[EnvSource | FileSource | StoreSource]:
    return [EnvSource(env), FileSource(toml), StoreSource(store, how_to_set=EMBEDDED_HOW)]


def test_env_var_names() -> None:
    assert env_var("database.password") == "HARMONY_CONFIG_DATABASE__PASSWORD"
    assert env_var("api.base-url") == "HARMONY_CONFIG_API__BASE_URL"


def test_first_source_that_has_a_value_wins(tmp_path: Path, store: EmbeddedStore) -> None:
    toml = tmp_path / "harmony-config.toml"
    toml.write_text('debug = true\n[database]\nhost = "from-file"\nport = 6000\n[api]\nretries = 5\n')
    store.put(NS, "database.host", "from-store")
    store.put(NS, "database.password", Secret("store-pw"))
    store.put(NS, "api.token", Secret("store-token"))
    env = {"HARMONY_CONFIG_DATABASE__HOST": "from-env", "HARMONY_CONFIG_API__TOKEN": "env-token"}
    s = Resolver(NS, chain(store, env, toml)).resolve(Settings)
    assert s.database.host == "from-env"  # env beats file and store
    assert s.database.port == 6000  # file, typed by TOML
    assert s.database.password.reveal() == "store-pw"  # only the store has it
    assert s.api.token.reveal() == "env-token"
    assert (s.api.retries, s.debug) == (5, True)
    assert isinstance(s.database.password, Secret)


def test_defaults_fill_what_no_source_has(store: EmbeddedStore, tmp_path: Path) -> None:
    env = {"HARMONY_CONFIG_DATABASE__PASSWORD": "pw", "HARMONY_CONFIG_API__TOKEN": "tok"}
    s = Resolver(NS, chain(store, env, tmp_path / "absent.toml")).resolve(Settings)
    assert (s.database.host, s.database.port, s.api.retries, s.debug) == ("127.0.0.1", 5432, 3, False)


def test_missing_lists_every_key_and_where_it_could_come_from(store: EmbeddedStore, tmp_path: Path) -> None:
    with pytest.raises(MissingConfigError) as e:
        Resolver(NS, chain(store, {}, tmp_path / "harmony-config.toml")).resolve(Settings)
    err = e.value
    assert [k for k, _ in err.missing] == ["database.password", "api.token"]
    hints = dict(err.missing)["database.password"]
    assert hints[0] == "set HARMONY_CONFIG_DATABASE__PASSWORD"
    assert "under [database] in" in hints[1]
    assert "`harmony secret set database.password -d shop -e prod`" in hints[2]
    assert "run on a terminal" in hints[3]
    assert "shop/prod" in str(err)
    assert "no terminal to ask on" in str(err)


@pytest.mark.parametrize(
    ("where", "key", "shown", "expected"),
    [
        ("env", "database.port", "'not-a-port'", "Port"),
        ("env", "debug", "'perhaps'", "bool"),
        ("file", "database.port", "70000", "Port"),
        ("file", "database.password", MASK, "Secret"),  # an int given for a secret: masked in the message
        ("store", "api.retries", "'many'", "int"),
    ],
)
def test_wrong_type_names_key_source_and_expected_type(
    where: str, key: str, shown: str, expected: str, store: EmbeddedStore, tmp_path: Path
) -> None:
    toml = tmp_path / "harmony-config.toml"
    env = {"HARMONY_CONFIG_DATABASE__PASSWORD": "pw", "HARMONY_CONFIG_API__TOKEN": "tok"}
    raw = {"'not-a-port'": "not-a-port", "'perhaps'": "perhaps", "'many'": "many"}.get(shown)
    if where == "env":
        env[env_var(key)] = raw or ""
    elif where == "file":
        section, leaf = key.split(".")
        value = "987654321" if key == "database.password" else "70000"
        toml.write_text(f"[{section}]\n{leaf} = {value}\n")
        env.pop(env_var(key), None)
    else:
        store.put(NS, key, raw)
    with pytest.raises(ConfigTypeError) as e:
        Resolver(NS, chain(store, env, toml)).resolve(Settings)
    message = str(e.value)
    assert e.value.key == key
    assert message.startswith(f"{key} from {'embedded store' if where == 'store' else where} ")
    assert f": {shown} is not valid; expected {expected}" in message
    assert "987654321" not in message


def test_a_corrupted_store_entry_stops_resolution(store: EmbeddedStore, tmp_path: Path) -> None:
    store.put(NS, "database.password", Secret("pw"))
    store.put(NS, "api.token", Secret("tok"))
    db = store._conn()  # the real file, altered underneath the store
    db.execute("UPDATE entries SET value = X'00112233445566778899AABBCCDDEEFF00' WHERE key = 'api.token'")
    with pytest.raises(CorruptEntryError, match=r"api.token is corrupted .* left untouched"):
        Resolver(NS, chain(store, {}, tmp_path / "x.toml")).resolve(Settings)


def test_load_config_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARMONY_CONFIG_STORE", str(tmp_path / "s.sqlite3"))
    monkeypatch.setenv("HARMONY_CONFIG_KEY", str(tmp_path / "k" / "key"))
    monkeypatch.setenv("HARMONY_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("HARMONY_ENV", "staging")
    monkeypatch.setenv("HARMONY_NONINTERACTIVE", "1")
    monkeypatch.delenv("HARMONY_BAO_ADDR", raising=False)
    monkeypatch.setenv("HARMONY_CONFIG_API__TOKEN", "tok")
    with pytest.raises(MissingConfigError) as e:
        load_config(Settings, deployment="shop")
    assert e.value.namespace == "shop/staging"
    assert [k for k, _ in e.value.missing] == ["database.password"]
    resolver(Namespace("shop", "staging")).save_to.put(  # type: ignore[union-attr]  # the embedded store
        Namespace("shop", "staging"), "database.password", Secret("pw")
    )
    assert load_config(Settings, deployment="shop").database.password == Secret("pw")


def test_a_stored_secret_is_never_unmasked_into_a_plain_setting(store: EmbeddedStore, tmp_path: Path) -> None:
    class Loose(ConfigModel):
        token: str  # the model forgot that it is a secret

    store.put(NS, "token", Secret("Stored-As-Secret-1"))
    with pytest.raises(ConfigTypeError, match="stored as a secret: declare the setting as Secret") as e:
        Resolver(NS, chain(store, {}, tmp_path / "x.toml")).resolve(Loose)
    assert "Stored-As-Secret-1" not in str(e.value)
