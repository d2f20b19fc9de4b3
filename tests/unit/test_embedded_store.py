"""The embedded store on a real SQLite file: secrets encrypted at rest, the key kept apart with mode 0600,
and every way the key or an entry can go wrong reported as such, with nothing overwritten."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harmony.config import Namespace, Secret
from harmony.domain.errors import CorruptEntryError, StoreConflictError, StoreKeyFileError
from harmony.infra.embedded_store import EmbeddedStore

NS = Namespace("shop", "prod")
CLEAR = "Plain-Text-Pa55word-Q9"


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "data" / "config.sqlite3", tmp_path / "conf" / "config.key"


@pytest.fixture
def store(paths: tuple[Path, Path]) -> EmbeddedStore:
    return EmbeddedStore(*paths)


def raw_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def row(db: Path, key: str) -> bytes:
    import sqlite3

    with sqlite3.connect(db) as conn:
        value: bytes = conn.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()[0]
    return value


def test_round_trip_and_versions(store: EmbeddedStore) -> None:
    assert store.get(NS, "database.password") is None
    assert store.put(NS, "database.password", Secret(CLEAR)) == 1
    assert store.put(NS, "database.port", 5433) == 1
    assert store.put(NS, "database.password", Secret(CLEAR + "2")) == 2
    entries = {e.key: e for e in store.entries(NS)}
    assert entries["database.password"].value == Secret(CLEAR + "2")
    assert entries["database.password"].version == 2
    assert entries["database.port"].value == 5433
    assert store.entries(Namespace("shop", "dev")) == []
    assert store.delete(NS, "database.port")
    assert not store.delete(NS, "database.port")


def test_ciphertext_holds_no_plaintext(store: EmbeddedStore, paths: tuple[Path, Path]) -> None:
    store.put(NS, "database.password", Secret(CLEAR))
    store.put(NS, "database.host", "visible-host-name")
    store.close()
    db, key = paths
    everything = raw_bytes(db)
    assert b"visible-host-name" in everything  # the scan would see plaintext if it were there
    for needle in (CLEAR.encode(), CLEAR.encode("utf-16-le"), CLEAR.lower().encode()):
        assert needle not in everything
    assert key.read_bytes() not in everything  # the key is not in the database either
    assert CLEAR.encode() not in row(db, "database.password")


def test_key_file_is_0600_and_outside_the_database(store: EmbeddedStore, paths: tuple[Path, Path]) -> None:
    store.put(NS, "api.token", Secret(CLEAR))
    db, key = paths
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert key.parent != db.parent
    assert len(key.read_bytes()) == 32
    with pytest.raises(StoreKeyFileError, match="must not be the database"):
        EmbeddedStore(db, db)


def test_a_key_readable_by_others_is_refused(store: EmbeddedStore, paths: tuple[Path, Path]) -> None:
    store.put(NS, "api.token", Secret(CLEAR))
    os.chmod(paths[1], 0o644)
    with pytest.raises(StoreKeyFileError, match=r"mode 0o644 .* `chmod 600"):
        EmbeddedStore(*paths).get(NS, "api.token")


def test_a_missing_key_is_never_silently_replaced(store: EmbeddedStore, paths: tuple[Path, Path]) -> None:
    store.put(NS, "api.token", Secret(CLEAR))
    paths[1].unlink()
    again = EmbeddedStore(*paths)
    with pytest.raises(StoreKeyFileError, match=r"missing, so the 1 secret"):
        again.get(NS, "api.token")
    with pytest.raises(StoreKeyFileError):
        again.put(NS, "db.password", Secret("new"))
    assert not paths[1].exists()


def test_altered_ciphertext_is_corrupt_and_left_untouched(store: EmbeddedStore, paths: tuple[Path, Path]) -> None:
    store.put(NS, "api.token", Secret(CLEAR))
    db = paths[0]
    tampered = bytearray(row(db, "api.token"))
    tampered[-1] ^= 0x01
    store._conn().execute("UPDATE entries SET value = ? WHERE key = 'api.token'", (bytes(tampered),))
    with pytest.raises(CorruptEntryError, match="does not decrypt"):
        store.get(NS, "api.token")
    assert row(db, "api.token") == bytes(tampered)


def test_ciphertext_moved_to_another_key_does_not_open(store: EmbeddedStore, paths: tuple[Path, Path]) -> None:
    store.put(NS, "api.token", Secret(CLEAR))
    store.put(NS, "db.password", Secret("other"))
    stolen = row(paths[0], "api.token")
    store._conn().execute("UPDATE entries SET value = ? WHERE key = 'db.password'", (stolen,))
    with pytest.raises(CorruptEntryError):
        store.get(NS, "db.password")


def test_plain_entry_that_is_not_json_is_corrupt(store: EmbeddedStore) -> None:
    store.put(NS, "database.host", "db1")
    store._conn().execute("UPDATE entries SET value = X'7B7B7B' WHERE key = 'database.host'")
    with pytest.raises(CorruptEntryError, match="not JSON"):
        store.get(NS, "database.host")


def test_check_and_set(store: EmbeddedStore) -> None:
    assert store.put(NS, "k", "a", expected_version=0) == 1
    with pytest.raises(StoreConflictError):
        store.put(NS, "k", "b", expected_version=0)
    other = EmbeddedStore(store.path, store.key_path)  # a second writer on the same file
    assert other.put(NS, "k", "c", expected_version=1) == 2
    with pytest.raises(StoreConflictError):
        store.put(NS, "k", "stale", expected_version=1)
    assert store.get(NS, "k").value == "c"  # type: ignore[union-attr]  # written above
