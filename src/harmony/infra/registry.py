"""``DistributionRegistry``: the ``ImageRegistry`` capability as two CNCF distribution (``docker-registry``) daemons.

Both daemons share one storage directory and one server certificate from the ``SiteCA``:
- the **pull** daemon runs in distribution's read-only maintenance mode, with every account in its password
  file: any account pulls, nobody writes (a push gets "405 read-only mode");
- the **push** daemon's password file holds only the push account.
distribution's htpasswd auth has no per-user rights, so this split is what makes pull accounts read-only.

Files under ``state_dir``: ``pull.yml``/``push.yml`` (JSON, which is YAML), ``*.htpasswd`` (bcrypt),
``server.crt``/``server.key`` (0600), ``applied.json`` (what was applied: endpoints and per-account HMACs keyed
by ``fingerprint.key``, so a changed password is seen without keeping it), ``*.pid`` and ``*.log``.
There is no service manager here: the daemons are started detached by ``start-stop-daemon`` and found again by
pid file; nothing restarts one that crashes until the next apply (``RegistryStatus`` says it is down).
Garbage collection stops the push daemon only (distribution's ``garbage-collect`` must not race writes);
pulls go on. Not guaranteed: a blob deleted by collection while a client was pulling it fails that pull.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import ssl
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Literal

import bcrypt

from harmony.domain.capabilities.registry import (
    GarbageReport,
    RegistrySettings,
    RegistryStatus,
    StoredManifest,
)
from harmony.domain.errors import CommandError, RegistryError
from harmony.domain.image_refs import ImageDigest
from harmony.infra.daemon import read_pid, start_daemon, stop_daemon
from harmony.infra.local_process import run_local
from harmony.infra.programs import DOCKER_REGISTRY, START_STOP_DAEMON
from harmony.infra.site_ca import SiteCA, certificate_names, certificate_subject

type Role = Literal["pull", "push"]
ROLES: tuple[Role, ...] = ("pull", "push")
BCRYPT_ROUNDS = 10  # every request is checked against the hash: cost 10 is ~50 ms on a small machine
READY_TIMEOUT = 20.0


class DistributionRegistry:
    def __init__(self, *, state_dir: Path, ca: SiteCA, binary: str | None = None, netns: str | None = None) -> None:
        """``netns``: run both daemons inside that network namespace (a lab host; storage stays on this disk)."""
        self.state_dir = state_dir.absolute()
        self.ca = ca
        self.binary = binary
        self.netns = netns

    def executable(self) -> str:
        """``binary`` if given, else the registered ``docker-registry`` (``MissingProgramError`` if absent)."""
        return self.binary if self.binary is not None else DOCKER_REGISTRY.argv()[0]

    def _path(self, name: str) -> Path:
        return self.state_dir / name

    def site_ca_certificate(self) -> str:
        return self.ca.certificate_pem()

    # status

    async def registry_status(self, settings: RegistrySettings) -> RegistryStatus | None:
        applied_file = self._path("applied.json")
        if not applied_file.exists():
            return None
        applied = json.loads(applied_file.read_text())
        wanted = self._summary(settings)
        changed = describe_changes(applied, wanted)
        return RegistryStatus(
            settings_applied=not changed,
            changed=tuple(changed),
            pull_running=read_pid(self._path("pull.pid")) is not None,
            push_running=read_pid(self._path("push.pid")) is not None,
        )

    def _summary(self, settings: RegistrySettings) -> dict[str, object]:
        key = self._fingerprint_key()

        def mac(user: str, password: str) -> str:
            return hmac.new(key, f"{user}\0{password}".encode(), hashlib.sha256).hexdigest()

        return {
            "pull": settings.pull_endpoint,
            "push": settings.push_endpoint,
            "hostname": settings.hostname,
            "storage": str(settings.storage),
            "pusher": {settings.pusher.user: mac(settings.pusher.user, settings.pusher.password.reveal())},
            "pullers": {a.user: mac(a.user, a.password.reveal()) for a in settings.pullers},
        }

    def _fingerprint_key(self) -> bytes:
        path = self._path("fingerprint.key")
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
        return path.read_bytes()

    # serve

    async def serve_registry(self, settings: RegistrySettings) -> None:
        """Write what changed; restart both daemons when anything did, else start only a stopped one."""
        before = await asyncio.to_thread(self._configuration_files)
        await asyncio.to_thread(self._write_configuration, settings)
        changed = before != await asyncio.to_thread(self._configuration_files)
        for role in ROLES:
            endpoint = settings.pull_endpoint if role == "pull" else settings.push_endpoint
            if changed:  # restarted, so that new passwords, certificates and ports take effect
                await self._stop(role)
            if changed or read_pid(self._path(f"{role}.pid")) is None:
                await self._start(role, endpoint)
        self._path("applied.json").write_text(json.dumps(self._summary(settings), indent=2) + "\n")

    def _configuration_files(self) -> dict[str, bytes]:
        names = ("pull.yml", "push.yml", "pull.htpasswd", "push.htpasswd", "server.crt", "server.key")
        return {n: self._path(n).read_bytes() for n in names if self._path(n).exists()}

    def _write_configuration(self, settings: RegistrySettings) -> None:
        """Certificate, password files and both daemons' configuration (blocking: bcrypt and file writes)."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.state_dir, 0o700)
        Path(settings.storage).mkdir(parents=True, exist_ok=True)
        self._ensure_certificate(settings)
        http_secret = self._http_secret()
        pull_users: dict[str, str] = {a.user: a.password.reveal() for a in (settings.pusher, *settings.pullers)}
        self._write_htpasswd("pull", pull_users)
        self._write_htpasswd("push", {settings.pusher.user: settings.pusher.password.reveal()})
        for role in ROLES:
            config = registry_config(
                role=role,
                listen=settings.pull_endpoint if role == "pull" else settings.push_endpoint,
                storage=Path(settings.storage),
                htpasswd=self._path(f"{role}.htpasswd"),
                certificate=self._path("server.crt"),
                key=self._path("server.key"),
                http_secret=http_secret,
            )
            self._path(f"{role}.yml").write_text(json.dumps(config, indent=2) + "\n")

    async def stop_registry(self) -> None:
        for role in ROLES:
            await self._stop(role)

    async def _stop(self, role: Role) -> None:
        await stop_daemon(self._path(f"{role}.pid"))

    async def _start(self, role: Role, endpoint: str) -> None:
        pid_file, log = self._path(f"{role}.pid"), self._path(f"{role}.log")
        log.write_text("")
        argv = [
            *START_STOP_DAEMON.argv("--start", "--background", "--make-pidfile", "--pidfile", str(pid_file)),
            "--output", str(log), "--exec", self.executable(), "--", "serve", str(self._path(f"{role}.yml")),
        ]  # fmt: skip
        try:
            result = await start_daemon(argv, pid_file=pid_file, netns=self.netns)
        except CommandError as e:
            raise RegistryError(endpoint, f"could not start the {role} registry: {e} (run scripts/install)") from e
        if not result.ok:
            raise RegistryError(endpoint, f"could not start the {role} registry: {result.stderr.strip()}")
        context = ssl.create_default_context(cafile=str(self.ca.certificate_path))
        deadline = time.monotonic() + READY_TIMEOUT
        while not await answers_tls(endpoint, context):
            if time.monotonic() > deadline or read_pid(pid_file) is None:
                lines = log.read_text().strip().splitlines()
                await self._stop(role)
                why = next((ln for ln in lines if ln.startswith("panic:") or "level=fatal" in ln), None)
                raise RegistryError(
                    endpoint,
                    f"the {role} registry did not answer over TLS at {endpoint}: {why or (lines or ['no log'])[-1]}",
                    evidence=tuple(lines[-10:]),
                )
            await asyncio.sleep(0.05)

    def _ensure_certificate(self, settings: RegistrySettings) -> None:
        names = (settings.hostname,) if settings.hostname else ()
        wanted = tuple(sorted([str(settings.address), *names]))
        cert, key = self._path("server.crt"), self._path("server.key")
        if cert.exists() and key.exists():
            sans, issuer = certificate_names(cert.read_text())
            ca_subject = certificate_subject(self.ca.certificate_pem())
            if sans == wanted and issuer == ca_subject:
                return
        issued = self.ca.issue_server(
            names[0] if names else str(settings.address), addresses=(settings.address,), names=names
        )
        cert.write_text(issued.certificate_pem)
        _write_private(key, issued.key_pem.encode())

    def _http_secret(self) -> str:
        path = self._path("http.secret")
        if not path.exists():
            _write_private(path, secrets.token_hex(32).encode())
        return path.read_text().strip()

    def _write_htpasswd(self, role: Role, users: Mapping[str, str]) -> None:
        """bcrypt lines, reusing an existing hash when the password still matches (no needless change)."""
        path = self._path(f"{role}.htpasswd")
        old: dict[str, bytes] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                name, _, stored = line.partition(":")
                old[name] = stored.encode()
        lines: list[str] = []
        for user, password in sorted(users.items()):
            current = old.get(user)
            if current is None or not bcrypt.checkpw(password.encode(), current):
                current = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS))
            lines.append(f"{user}:{current.decode()}")
        _write_private(path, ("\n".join(lines) + "\n").encode())

    # storage and garbage collection

    def _applied(self) -> dict[str, object]:
        path = self._path("applied.json")
        if not path.exists():
            raise RegistryError("-", f"no registry is configured in {self.state_dir}; apply a SiteRegistry Score first")
        loaded: dict[str, object] = json.loads(path.read_text())
        return loaded

    def _storage(self) -> Path:
        return Path(str(self._applied()["storage"]))

    async def stored_manifests(self) -> Sequence[StoredManifest]:
        return await asyncio.to_thread(list_manifests, self._storage())

    async def collect_garbage(self, *, keep: Collection[ImageDigest]) -> GarbageReport:
        storage = self._storage()
        endpoint = str(self._applied()["push"])
        before = await asyncio.to_thread(blob_sizes, storage)
        doomed = [m for m in await self.stored_manifests() if not m.tags and m.digest not in keep]
        was_running = read_pid(self._path("push.pid")) is not None
        await self._stop("push")
        try:
            await asyncio.to_thread(delete_manifests, storage, doomed)
            result = await run_local([self.executable(), "garbage-collect", str(self._path("push.yml"))], timeout=600)
            if not result.ok:
                raise RegistryError(
                    endpoint, "garbage collection failed", evidence=tuple(result.stderr.strip().splitlines()[-10:])
                )
        finally:
            if was_running:
                await self._start("push", endpoint)
        after = await asyncio.to_thread(blob_sizes, storage)
        freed = sum(size for blob, size in before.items() if blob not in after)
        return GarbageReport(
            deleted_manifests=tuple(doomed), blobs_before=len(before), blobs_after=len(after), bytes_freed=freed
        )


def registry_config(
    *, role: Role, listen: str, storage: Path, htpasswd: Path, certificate: Path, key: Path, http_secret: str
) -> dict[str, object]:
    """One daemon's configuration: a pure function, tested as a table."""
    return {
        "version": "0.1",
        "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": role == "push"},
            "maintenance": {
                "uploadpurging": (
                    {"enabled": True, "age": "168h", "interval": "24h", "dryrun": False}
                    if role == "push"
                    else {"enabled": False}
                ),
                "readonly": {"enabled": role == "pull"},
            },
        },
        "http": {
            "addr": listen,
            "secret": http_secret,
            "tls": {"certificate": str(certificate), "key": str(key)},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "auth": {"htpasswd": {"realm": f"harmony-{role}", "path": str(htpasswd)}},
    }


def describe_changes(applied: dict[str, object], wanted: dict[str, object]) -> list[str]:
    """What differs between two summaries, in words (passwords only as 'password of X')."""
    changes: list[str] = []
    for field in ("pull", "push", "hostname", "storage"):
        if applied.get(field) != wanted.get(field):
            changes.append(f"{field} {applied.get(field)} -> {wanted.get(field)}")
    for group in ("pusher", "pullers"):
        old = _accounts(applied.get(group))
        new = _accounts(wanted.get(group))
        changes += [f"{group[:-1]} {u} added" for u in sorted(new.keys() - old.keys())]
        changes += [f"{group[:-1]} {u} removed" for u in sorted(old.keys() - new.keys())]
        changes += [f"password of {u} changed" for u in sorted(new.keys() & old.keys()) if new[u] != old[u]]
    return changes


def _accounts(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]  # JSON from applied.json


def _repositories(storage: Path) -> list[tuple[str, Path]]:
    root = storage / "docker" / "registry" / "v2" / "repositories"
    if not root.exists():
        return []
    return sorted((str(m.parent.relative_to(root)), m) for m in root.rglob("_manifests") if m.is_dir())


def list_manifests(storage: Path) -> list[StoredManifest]:
    """Every manifest revision of every repository, with the tags whose current link names it."""
    found: list[StoredManifest] = []
    for repository, manifests in _repositories(storage):
        tags: dict[str, list[str]] = {}
        tag_root = manifests / "tags"
        if tag_root.exists():
            for current in tag_root.glob("*/current/link"):
                tags.setdefault(current.read_text().strip(), []).append(current.parent.parent.name)
        revisions = manifests / "revisions" / "sha256"
        if revisions.exists():
            for link in sorted(revisions.glob("*/link")):
                digest = ImageDigest(link.read_text().strip())
                found.append(
                    StoredManifest(repository=repository, digest=digest, tags=tuple(sorted(tags.get(digest, []))))
                )
    return found


def delete_manifests(storage: Path, manifests: Sequence[StoredManifest]) -> None:
    """What distribution's manifest DELETE does on the filesystem: the revision link and tag-index entries."""
    by_repo = dict(_repositories(storage))
    for m in manifests:
        root = by_repo.get(m.repository)
        if root is None:
            continue
        hexdigest = m.digest.removeprefix("sha256:")
        shutil.rmtree(root / "revisions" / "sha256" / hexdigest, ignore_errors=True)
        for index in (root / "tags").glob(f"*/index/sha256/{hexdigest}"):
            shutil.rmtree(index, ignore_errors=True)


def blob_sizes(storage: Path) -> dict[str, int]:
    """Every blob in storage and its size in bytes."""
    root = storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
    if not root.exists():
        return {}
    return {data.parent.name: data.stat().st_size for data in root.glob("*/*/data")}


async def answers_tls(endpoint: str, context: ssl.SSLContext, *, timeout: float = 2.0) -> bool:
    """True when ``endpoint`` completes a TLS handshake trusted by ``context`` and answers ``GET /v2/``."""
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, int(port), ssl=context, server_hostname=host), timeout
        )
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    try:
        writer.write(f"GET /v2/ HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout)
        return status.startswith(b"HTTP/1.1 ")
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
