"""One contract, every ``ConfigStore`` adapter: the embedded store and OpenBao (a real dev server) must behave
alike for get/put/delete/entries, check-and-set and secrets (see ``domain/config_store.py``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmony.domain.config_store import ConfigStore, Namespace
from harmony.domain.errors import StoreConflictError
from harmony.domain.secret import Secret
from harmony.infra.embedded_store import EmbeddedStore
from harmony.infra.openbao import OpenBaoStore, TokenAuth
from tests.fixtures.openbao import BaoServer

NS = Namespace("contract", "test")


@pytest.fixture(params=["embedded", "openbao"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConfigStore]:
    if request.param == "embedded":
        embedded = EmbeddedStore(tmp_path / "data" / "config.sqlite3", tmp_path / "conf" / "config.key")
        yield embedded
        embedded.close()
        return
    server: BaoServer = request.getfixturevalue("openbao_dev")
    yield OpenBaoStore(server.url, auth=TokenAuth(Secret(server.root_token)), prefix="c-" + secrets.token_hex(4))


def test_an_absent_key_is_none_and_deleting_it_is_false(store: ConfigStore) -> None:
    assert store.get(NS, "nothing.here") is None
    assert store.delete(NS, "nothing.here") is False


def test_put_then_get_returns_the_value_and_a_growing_version(store: ConfigStore) -> None:
    first = store.put(NS, "db.port", 5432)
    second = store.put(NS, "db.port", 5433)
    assert second > first
    entry = store.get(NS, "db.port")
    assert entry is not None
    assert (entry.key, entry.value, entry.version, entry.secret) == ("db.port", 5433, second, False)


def test_a_secret_comes_back_as_a_secret(store: ConfigStore) -> None:
    store.put(NS, "db.password", Secret("hunter2"))
    entry = store.get(NS, "db.password")
    assert entry is not None and entry.secret
    assert isinstance(entry.value, Secret) and entry.value.reveal() == "hunter2"


def test_check_and_set_creates_only_if_absent_and_replaces_only_the_expected_version(store: ConfigStore) -> None:
    version = store.put(NS, "api.url", "http://a", expected_version=0)
    with pytest.raises(StoreConflictError):
        store.put(NS, "api.url", "http://b", expected_version=0)
    with pytest.raises(StoreConflictError):
        store.put(NS, "api.url", "http://b", expected_version=version + 5)
    store.put(NS, "api.url", "http://c", expected_version=version)
    entry = store.get(NS, "api.url")
    assert entry is not None and entry.value == "http://c"


def test_entries_are_sorted_by_key_and_delete_removes_every_version(store: ConfigStore) -> None:
    store.put(NS, "b.key", "2")
    store.put(NS, "a.key", ["x", 1])
    store.put(NS, "b.key", "3")
    assert [(e.key, e.value) for e in store.entries(NS)] == [("a.key", ["x", 1]), ("b.key", "3")]
    assert store.delete(NS, "b.key") is True
    assert store.get(NS, "b.key") is None
    assert [e.key for e in store.entries(NS)] == ["a.key"]
