"""The team store on a real OpenBao: kv-v2 reads and writes, check-and-set, AppRole, and the faults that must
never read as "absent": an unreachable server, a sealed one, refused credentials, a foreign entry."""

from __future__ import annotations

import secrets

import pytest
from pydantic import Field

from harmony.config import ConfigModel, ConfigSection, Namespace, Resolver, Secret
from harmony.config.sources import StoreSource
from harmony.config.wiring import team_store
from harmony.domain.errors import (
    ConfigStoreError,
    CorruptEntryError,
    StoreAuthError,
    StoreConflictError,
    StoreSealedError,
    StoreUnreachableError,
)
from harmony.infra.openbao import AppRoleAuth, OpenBaoStore, TokenAuth
from tests.fixtures.openbao import BaoServer
from tests.fixtures.ports import free_port

NS = Namespace("shop", "prod")


def store_for(server: BaoServer, token: str | None = None) -> OpenBaoStore:
    prefix = "t-" + secrets.token_hex(4)
    return OpenBaoStore(server.url, auth=TokenAuth(Secret(token or server.root_token)), prefix=prefix)


class Db(ConfigSection):
    host: str = "127.0.0.1"
    password: Secret = Field(description="db password")


class Settings(ConfigModel):
    database: Db


def test_read_write_list_delete(openbao_dev: BaoServer) -> None:
    store = store_for(openbao_dev)
    assert store.get(NS, "database.password") is None
    assert store.put(NS, "database.password", Secret("s3cr3t-pw")) == 1
    assert store.put(NS, "database.host", "db1") == 1
    assert store.put(NS, "database.port", 5433) == 1
    entry = store.get(NS, "database.password")
    assert entry is not None
    assert entry.secret
    assert isinstance(entry.value, Secret)
    assert entry.value.reveal() == "s3cr3t-pw"
    assert [(e.key, e.secret) for e in store.entries(NS)] == [
        ("database.host", False),
        ("database.password", True),
        ("database.port", False),
    ]
    assert store.get(NS, "database.port").value == 5433  # type: ignore[union-attr]  # asserted present above
    # namespaces are separate
    assert store.get(Namespace("shop", "dev"), "database.password") is None
    assert store.delete(NS, "database.host") is True
    assert store.delete(NS, "database.host") is False
    assert store.get(NS, "database.host") is None
    # the values sit where the docs say, in kv-v2
    raw = openbao_dev.client().secrets.kv.v2.read_secret_version(
        path=f"{store.prefix}/shop/prod/database.password", mount_point="secret", raise_on_deleted_version=True
    )
    assert raw["data"]["data"] == {"value": "s3cr3t-pw", "secret": True}


def test_check_and_set(openbao_dev: BaoServer) -> None:
    store = store_for(openbao_dev)
    assert store.put(NS, "api.token", Secret("one"), expected_version=0) == 1
    with pytest.raises(StoreConflictError) as e:
        store.put(NS, "api.token", Secret("two"), expected_version=0)  # create-only, but it exists
    assert e.value.key == "api.token"
    assert store.put(NS, "api.token", Secret("two"), expected_version=1) == 2
    with pytest.raises(StoreConflictError):
        store.put(NS, "api.token", Secret("stale"), expected_version=1)  # another writer got version 2 first
    got = store.get(NS, "api.token")
    assert got is not None
    assert (got.version, got.value) == (2, Secret("two"))


def test_approle_login(openbao_dev: BaoServer) -> None:
    admin = openbao_dev.client()
    if "approle/" not in admin.sys.list_auth_methods()["data"]:
        admin.sys.enable_auth_method("approle")
    prefix = "t-" + secrets.token_hex(4)
    admin.sys.create_or_update_policy(
        name=f"harmony-{prefix}",
        policy=f'path "secret/data/{prefix}/*" {{ capabilities = ["create", "read", "update"] }}\n'
        f'path "secret/metadata/{prefix}/*" {{ capabilities = ["list", "read", "delete"] }}\n',
    )
    admin.auth.approle.create_or_update_approle(role_name=prefix, token_policies=[f"harmony-{prefix}"])
    role_id = admin.auth.approle.read_role_id(role_name=prefix)["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(role_name=prefix)["data"]["secret_id"]

    store = OpenBaoStore(openbao_dev.url, auth=AppRoleAuth(role_id=role_id, secret_id=Secret(secret_id)), prefix=prefix)
    store.put(NS, "database.password", Secret("via-approle"))
    assert store.get(NS, "database.password").value == Secret("via-approle")  # type: ignore[union-attr]  # just put

    # the same through the environment, as a run reads it
    from_env = team_store(
        {
            "HARMONY_BAO_ADDR": openbao_dev.url,
            "HARMONY_BAO_ROLE_ID": role_id,
            "HARMONY_BAO_SECRET_ID": secret_id,
            "HARMONY_BAO_PREFIX": prefix,
        }
    )
    assert from_env is not None
    assert from_env.get(NS, "database.password").value == Secret("via-approle")  # type: ignore[union-attr]  # put above

    outside = OpenBaoStore(
        openbao_dev.url, auth=AppRoleAuth(role_id=role_id, secret_id=Secret(secret_id)), prefix="other"
    )
    with pytest.raises(StoreAuthError, match="permission denied"):
        outside.get(NS, "database.password")  # the policy does not cover this prefix: denied, not "absent"

    wrong = OpenBaoStore(openbao_dev.url, auth=AppRoleAuth(role_id=role_id, secret_id=Secret("not-it")), prefix=prefix)
    with pytest.raises(StoreAuthError, match="AppRole login refused"):
        wrong.get(NS, "database.password")


def test_bad_token_is_an_auth_error(openbao_dev: BaoServer) -> None:
    with pytest.raises(StoreAuthError):
        store_for(openbao_dev, token="not-a-token").get(NS, "database.password")


def test_unreachable_is_never_absent() -> None:
    store = OpenBaoStore(f"http://127.0.0.1:{free_port()}", auth=TokenAuth(Secret("t")), timeout=2)
    with pytest.raises(StoreUnreachableError, match="store unreachable"):
        store.get(NS, "database.password")
    resolver = Resolver(NS, [StoreSource(store, how_to_set="")])
    with pytest.raises(StoreUnreachableError):
        resolver.resolve(Settings)


def test_foreign_entry_is_corrupt_not_absent(openbao_dev: BaoServer) -> None:
    store = store_for(openbao_dev)
    openbao_dev.client().secrets.kv.v2.create_or_update_secret(
        path=f"{store.prefix}/shop/prod/database.password", secret={"password": "x"}, mount_point="secret"
    )
    with pytest.raises(CorruptEntryError, match="left untouched"):
        store.get(NS, "database.password")


def test_sealed_server_gives_its_own_error_then_recovers(openbao_raft: BaoServer) -> None:
    store = OpenBaoStore(openbao_raft.url, auth=TokenAuth(Secret(openbao_raft.root_token)))
    store.put(NS, "database.password", Secret("raft-pw"))
    openbao_raft.seal()
    with pytest.raises(StoreSealedError, match="sealed"):
        store.get(NS, "database.password")
    with pytest.raises(StoreSealedError):
        Resolver(NS, [StoreSource(store, how_to_set="")]).resolve(Settings)
    openbao_raft.unseal()
    settings = Resolver(NS, [StoreSource(store, how_to_set="")]).resolve(Settings)
    assert settings.database.password.reveal() == "raft-pw"
    # raft storage keeps the value encrypted by OpenBao's barrier
    assert openbao_raft.data_dir is not None
    for f in openbao_raft.data_dir.rglob("*"):
        if f.is_file():
            assert b"raft-pw" not in f.read_bytes(), f


def test_a_missing_mount_is_not_a_missing_key(openbao_dev: BaoServer) -> None:
    store = OpenBaoStore(openbao_dev.url, auth=TokenAuth(Secret(openbao_dev.root_token)), mount="nomount")
    with pytest.raises(ConfigStoreError, match="no kv-v2 engine is mounted at nomount/"):
        store.get(NS, "database.password")
    with pytest.raises(ConfigStoreError, match="no kv-v2 engine"):
        store.put(NS, "database.password", Secret("x"))
