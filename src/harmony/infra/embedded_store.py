"""The embedded default store: SQLite under the user's data directory, secrets encrypted at rest.

Each secret is sealed with AES-256-GCM under a random 96-bit nonce, with ``namespace\\0key`` as associated
data, so a ciphertext copied onto another key fails to open instead of yielding a wrong value. The 32-byte
key lives in its own file outside the database (by default in the user's config directory, not the data
directory), created with mode 0600; a key file readable by others is refused, and a missing key file is
never silently replaced while encrypted entries exist.

Not guaranteed: protection from someone who can read both files as the same user; plain (non-secret)
settings are stored in clear.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import stat
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harmony.domain.config_store import Entry, Namespace, Plain, Value, check_key
from harmony.domain.errors import CorruptEntryError, StoreConflictError, StoreKeyFileError
from harmony.domain.secret import Secret

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT NOT NULL, key TEXT NOT NULL, secret INTEGER NOT NULL, value BLOB NOT NULL,
    version INTEGER NOT NULL, updated REAL NOT NULL, PRIMARY KEY (namespace, key)
);
"""
_NONCE = 12
_KEY_BYTES = 32


class EmbeddedStore:
    """A ``ConfigStore`` in one SQLite file; ``key_path`` holds the encryption key for secrets."""

    def __init__(self, path: Path, key_path: Path) -> None:
        if path.resolve() == key_path.resolve():
            raise StoreKeyFileError(str(key_path), "the key file must not be the database file")
        self.path = path
        self.key_path = key_path
        self._db: sqlite3.Connection | None = None

    @property
    def location(self) -> str:
        return f"embedded store {self.path}"

    def _conn(self) -> sqlite3.Connection:
        """The connection; creates the database (0600) on first use."""
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self._db.executescript(_SCHEMA)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _exists(self) -> bool:
        """Reads never create the database: a store nobody wrote to is just empty."""
        return self._db is not None or self.path.exists()

    def get(self, namespace: Namespace, key: str) -> Entry | None:
        if not self._exists():
            return None
        row = (
            self._conn()
            .execute(
                "SELECT secret, value, version FROM entries WHERE namespace = ? AND key = ?", (str(namespace), key)
            )
            .fetchone()
        )
        return None if row is None else self._decode(namespace, key, *row)

    def entries(self, namespace: Namespace) -> list[Entry]:
        if not self._exists():
            return []
        rows = (
            self._conn()
            .execute(
                "SELECT key, secret, value, version FROM entries WHERE namespace = ? ORDER BY key", (str(namespace),)
            )
            .fetchall()
        )
        return [self._decode(namespace, key, secret, value, version) for key, secret, value, version in rows]

    def put(self, namespace: Namespace, key: str, value: Value, *, expected_version: int | None = None) -> int:
        check_key(key)
        secret = isinstance(value, Secret)
        blob = self._seal(namespace, key, value) if isinstance(value, Secret) else _encode_plain(value)
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT version FROM entries WHERE namespace = ? AND key = ?", (str(namespace), key)
            ).fetchone()
            current: int = 0 if row is None else row[0]
            if expected_version is not None and expected_version != current:
                raise StoreConflictError(self.location, key, expected_version)
            db.execute(
                "INSERT OR REPLACE INTO entries (namespace, key, secret, value, version, updated) VALUES (?,?,?,?,?,?)",
                (str(namespace), key, int(secret), blob, current + 1, time.time()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return current + 1

    def delete(self, namespace: Namespace, key: str) -> bool:
        if not self._exists():
            return False
        cur = self._conn().execute("DELETE FROM entries WHERE namespace = ? AND key = ?", (str(namespace), key))
        return cur.rowcount > 0

    def _decode(self, namespace: Namespace, key: str, secret: int, blob: bytes, version: int) -> Entry:
        if secret:
            return Entry(key=key, value=self._open(namespace, key, blob), version=version)
        try:
            plain: Plain = json.loads(blob)
        except (ValueError, TypeError) as e:
            raise CorruptEntryError(self.location, f"{namespace}/{key}", f"not JSON: {e}") from None
        return Entry(key=key, value=plain, version=version)

    def _seal(self, namespace: Namespace, key: str, value: Secret) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + AESGCM(self._key(create=True)).encrypt(nonce, value.reveal().encode(), _aad(namespace, key))

    def _open(self, namespace: Namespace, key: str, blob: bytes) -> Secret:
        where = f"{namespace}/{key}"
        if len(blob) <= _NONCE:
            raise CorruptEntryError(self.location, where, "the ciphertext is truncated")
        try:
            clear = AESGCM(self._key(create=False)).decrypt(blob[:_NONCE], blob[_NONCE:], _aad(namespace, key))
        except (InvalidTag, TypeError, ValueError):
            raise CorruptEntryError(
                self.location, where, f"it does not decrypt with the key in {self.key_path} (altered, or another key)"
            ) from None
        try:
            return Secret(clear.decode())
        except UnicodeDecodeError:
            raise CorruptEntryError(self.location, where, "the decrypted value is not UTF-8") from None

    def _key(self, *, create: bool) -> bytes:
        try:
            st = self.key_path.stat()
        except FileNotFoundError:
            if not create or self._count_secrets():
                raise StoreKeyFileError(
                    str(self.key_path),
                    f"the key file is missing, so the {self._count_secrets()} secret(s) in {self.path} cannot be "
                    "read; restore it from a backup, or `harmony secret unset` them and set them again",
                ) from None
            return self._create_key()
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise StoreKeyFileError(
                str(self.key_path),
                f"the key file has mode {oct(stat.S_IMODE(st.st_mode))} and can be read by others; "
                f"`chmod 600 {self.key_path}`",
            )
        key = self.key_path.read_bytes()
        if len(key) != _KEY_BYTES:
            raise StoreKeyFileError(str(self.key_path), f"the key file holds {len(key)} bytes, not {_KEY_BYTES}")
        return key

    def _create_key(self) -> bytes:
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(_KEY_BYTES)
        try:
            fd = os.open(self.key_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return self._key(create=False)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        return key

    def _count_secrets(self) -> int:
        count: int = self._conn().execute("SELECT count(*) FROM entries WHERE secret = 1").fetchone()[0]
        return count


def _aad(namespace: Namespace, key: str) -> bytes:
    return f"{namespace}\0{key}".encode()


def _encode_plain(value: Plain) -> bytes:
    return json.dumps(value).encode()
