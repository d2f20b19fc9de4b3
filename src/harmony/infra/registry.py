"""``DistributionRegistry``: the ``ImageRegistry`` capability as two CNCF distribution (``docker-registry``) daemons.

Both daemons share one storage directory and one server certificate from the ``SiteCA``:
- the **pull** daemon runs in distribution's read-only maintenance mode, with every account in its password
  file: any account pulls, nobody writes (a push gets "405 read-only mode");
- the **push** daemon's password file holds only the push account.
distribution's htpasswd auth has no per-user rights, so this split is what makes pull accounts read-only.

Everything happens on the registry host through its connector (this machine, a network namespace, or an SSH
host); only the site CA stays with Harmony, which signs the server certificate here and writes it there.
Files under ``state_dir`` on that host: ``pull.yml``/``push.yml`` (JSON, which is YAML), ``*.htpasswd``
(bcrypt), ``server.crt``/``server.key`` (0600), ``applied.json`` (what was applied: endpoints and per-account
HMACs keyed by ``fingerprint.key``, so a changed password is seen without keeping it), ``*.pid`` and ``*.log``.
The daemons run as the host's daemons do (``harmony.infra.daemon``: systemd units where systemd runs, else
pid-file daemons started by ``start-stop-daemon``); on a pid-file host nothing restarts one that crashes
until the next apply (``RegistryStatus`` says it is down). Garbage collection stops the push daemon only
(distribution's ``garbage-collect`` must not race writes); pulls go on. Not guaranteed: a blob deleted by
collection while a client was pulling it fails that pull.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import ssl
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path, PurePosixPath
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
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, DaemonControl, daemons_on, detached
from harmony.infra.local_connector import LocalConnector
from harmony.infra.programs import DOCKER_REGISTRY, SH, START_STOP_DAEMON
from harmony.infra.site_ca import SiteCA, certificate_names, certificate_subject

type Role = Literal["pull", "push"]
ROLES: tuple[Role, ...] = ("pull", "push")
BCRYPT_ROUNDS = 10  # every request is checked against the hash: cost 10 is ~50 ms on a small machine
READY_TIMEOUT = 20.0
CONFIG_FILES = ("pull.yml", "push.yml", "pull.htpasswd", "push.htpasswd", "server.crt", "server.key")
REMOTE_DOCKER_REGISTRY = "/usr/bin/docker-registry"
REMOTE_START_STOP_DAEMON = "/sbin/start-stop-daemon"


class DistributionRegistry:
    def __init__(
        self,
        *,
        state_dir: Path | PurePosixPath,
        ca: SiteCA,
        connector: Connector | None = None,
        binary: str | None = None,
        netns: str | None = None,
    ) -> None:
        """``connector``: the registry host (default: this machine, inside ``netns`` when given).

        ``state_dir`` is a path on that host; the storage directory comes from the settings.
        """
        local = connector is None
        self.connector: Connector = connector or LocalConnector(name="localhost", netns=netns)
        self.state_dir = PurePosixPath(Path(state_dir).absolute() if local else state_dir)
        self.ca = ca
        self.binary = binary
        self._here = isinstance(self.connector, LocalConnector)
        self._control: DaemonControl | None = None

    def executable(self) -> str:
        """``binary`` if given, else the registered ``docker-registry`` (``MissingProgramError`` if absent here)."""
        if self.binary is not None:
            return self.binary
        return str(DOCKER_REGISTRY.require()) if self._here else REMOTE_DOCKER_REGISTRY

    def _path(self, name: str) -> PurePosixPath:
        return self.state_dir / name

    def site_ca_certificate(self) -> str:
        return self.ca.certificate_pem()

    def _daemon(self, role: Role) -> Daemon:
        launcher = str(START_STOP_DAEMON.require()) if self._here else REMOTE_START_STOP_DAEMON
        pid_file, log = self._path(f"{role}.pid"), self._path(f"{role}.log")
        tag = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        return detached(
            f"harmony-registry-{role}-{tag}",
            (self.executable(), "serve", str(self._path(f"{role}.yml"))),
            launcher=launcher,
            pid_file=pid_file,
            log_file=log,
            description=f"Harmony site registry ({role} endpoint)",
        )

    async def _daemons(self) -> DaemonControl:
        if self._control is None:
            self._control = await daemons_on(self.connector)
        return self._control

    async def _running(self, role: Role) -> bool:
        return await (await self._daemons()).pid(self._daemon(role)) is not None

    # files on the registry host

    async def _read(self, *names: str) -> dict[str, bytes | None]:
        paths = [self._path(n) for n in names]
        found = await self.connector.stat_files(paths, with_content=True)
        return {n: found[p].content if found[p].kind == "file" else None for n, p in zip(names, paths, strict=True)}

    async def _write(self, name: str, data: bytes, *, mode: int = 0o600) -> None:
        await self.connector.write_file(self._path(name), data, mode=mode, owner=None, group=None)

    async def _sh(self, script: str, *args: str, timeout: float = 120) -> str:
        try:
            result = await self.connector.run_command([SH.name, "-c", script, "sh", *args], timeout=timeout)
        except CommandError as e:
            raise RegistryError("-", f"on the registry host: {e}") from e
        if not result.ok:
            raise RegistryError("-", f"on the registry host: {result.stderr.strip() or result.exit_status}")
        return result.stdout

    # status

    async def registry_status(self, settings: RegistrySettings) -> RegistryStatus | None:
        applied = (await self._read("applied.json"))["applied.json"]
        if applied is None:
            return None
        changed = describe_changes(json.loads(applied), await self._summary(settings))
        return RegistryStatus(
            settings_applied=not changed,
            changed=tuple(changed),
            pull_running=await self._running("pull"),
            push_running=await self._running("push"),
        )

    async def _summary(self, settings: RegistrySettings) -> dict[str, object]:
        key = await self._fingerprint_key()

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

    async def _fingerprint_key(self) -> bytes:
        key = (await self._read("fingerprint.key"))["fingerprint.key"]
        if key is None:
            await self._make_state_dir()
            key = secrets.token_bytes(32)
            await self._write("fingerprint.key", key)
        return key

    async def _make_state_dir(self) -> None:
        await self._sh('mkdir -p -- "$1" && chmod 700 -- "$1"', str(self.state_dir))

    # serve

    async def serve_registry(self, settings: RegistrySettings) -> None:
        """Write what changed; restart both daemons when anything did, else start only a stopped one."""
        before = await self._read(*CONFIG_FILES)
        await self._write_configuration(settings)
        changed = before != await self._read(*CONFIG_FILES)
        for role in ROLES:
            endpoint = settings.pull_endpoint if role == "pull" else settings.push_endpoint
            if changed:  # restarted, so that new passwords, certificates and ports take effect
                await self._stop(role)
            if changed or not await self._running(role):
                await self._start(role, endpoint)
        await self._write("applied.json", (json.dumps(await self._summary(settings), indent=2) + "\n").encode())

    async def _write_configuration(self, settings: RegistrySettings) -> None:
        """Certificate, password files and both daemons' configuration, on the registry host."""
        await self._make_state_dir()
        await self._sh('mkdir -p -- "$1"', str(settings.storage))
        await self._ensure_certificate(settings)
        http_secret = await self._http_secret()
        pull_users: dict[str, str] = {a.user: a.password.reveal() for a in (settings.pusher, *settings.pullers)}
        await self._write_htpasswd("pull", pull_users)
        await self._write_htpasswd("push", {settings.pusher.user: settings.pusher.password.reveal()})
        for role in ROLES:
            config = registry_config(
                role=role,
                listen=settings.pull_endpoint if role == "pull" else settings.push_endpoint,
                storage=PurePosixPath(settings.storage),
                htpasswd=self._path(f"{role}.htpasswd"),
                certificate=self._path("server.crt"),
                key=self._path("server.key"),
                http_secret=http_secret,
            )
            await self._write(f"{role}.yml", (json.dumps(config, indent=2) + "\n").encode(), mode=0o600)

    async def stop_registry(self) -> None:
        for role in ROLES:
            await self._stop(role)

    async def _stop(self, role: Role) -> None:
        await (await self._daemons()).stop(self._daemon(role))

    async def _start(self, role: Role, endpoint: str) -> None:
        daemon = self._daemon(role)
        await self._write(f"{role}.log", b"", mode=0o644)
        control = await self._daemons()
        try:
            why = await control.start(daemon, timeout=READY_TIMEOUT)
        except CommandError as e:
            raise RegistryError(endpoint, f"could not start the {role} registry: {e} (run scripts/install)") from e
        context = ssl.create_default_context(cadata=self.ca.certificate_pem())
        deadline = time.monotonic() + READY_TIMEOUT
        while why is None and not await answers_tls(endpoint, context):
            if time.monotonic() > deadline or await control.pid(daemon) is None:
                why = "did not answer over TLS"
            await asyncio.sleep(0.05)
        if why is None:
            return
        log = ((await self._read(f"{role}.log"))[f"{role}.log"] or b"").decode(errors="replace")
        lines = log.strip().splitlines()
        await self._stop(role)
        fatal = next((ln for ln in lines if ln.startswith("panic:") or "level=fatal" in ln), None)
        raise RegistryError(
            endpoint,
            f"the {role} registry did not start at {endpoint}: {fatal or (lines or [why.splitlines()[0]])[-1]}",
            evidence=tuple(lines[-10:]),
        )

    async def _ensure_certificate(self, settings: RegistrySettings) -> None:
        names = (settings.hostname,) if settings.hostname else ()
        wanted = tuple(sorted([str(settings.address), *names]))
        found = await self._read("server.crt", "server.key")
        cert = found["server.crt"]
        if cert is not None and found["server.key"] is not None:
            sans, issuer = certificate_names(cert.decode())
            if sans == wanted and issuer == certificate_subject(self.ca.certificate_pem()):
                return
        issued = self.ca.issue_server(
            names[0] if names else str(settings.address), addresses=(settings.address,), names=names
        )
        await self._write("server.crt", issued.certificate_pem.encode(), mode=0o644)
        await self._write("server.key", issued.key_pem.encode())

    async def _http_secret(self) -> str:
        found = (await self._read("http.secret"))["http.secret"]
        if found is None:
            found = secrets.token_hex(32).encode()
            await self._write("http.secret", found)
        return found.decode().strip()

    async def _write_htpasswd(self, role: Role, users: Mapping[str, str]) -> None:
        """bcrypt lines, reusing an existing hash when the password still matches (no needless change)."""
        name = f"{role}.htpasswd"
        old: dict[str, bytes] = {}
        for line in ((await self._read(name))[name] or b"").decode().splitlines():
            user, _, stored = line.partition(":")
            old[user] = stored.encode()

        def lines() -> list[str]:  # bcrypt is slow on purpose: off the event loop
            out: list[str] = []
            for user, password in sorted(users.items()):
                current = old.get(user)
                if current is None or not bcrypt.checkpw(password.encode(), current):
                    current = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS))
                out.append(f"{user}:{current.decode()}")
            return out

        await self._write(name, ("\n".join(await asyncio.to_thread(lines)) + "\n").encode())

    # storage and garbage collection

    async def _applied(self) -> dict[str, object]:
        found = (await self._read("applied.json"))["applied.json"]
        if found is None:
            raise RegistryError("-", f"no registry is configured in {self.state_dir}; apply a SiteRegistry Score first")
        loaded: dict[str, object] = json.loads(found)
        return loaded

    async def stored_manifests(self) -> Sequence[StoredManifest]:
        storage = str((await self._applied())["storage"])
        return parse_manifest_links(await self._sh(_LIST_LINKS, storage))

    async def collect_garbage(self, *, keep: Collection[ImageDigest]) -> GarbageReport:
        applied = await self._applied()
        storage, endpoint = str(applied["storage"]), str(applied["push"])
        before = parse_blob_sizes(await self._sh(_LIST_BLOBS, storage))
        doomed = [m for m in await self.stored_manifests() if not m.tags and m.digest not in keep]
        was_running = await self._running("push")
        await self._stop("push")
        try:
            pairs = [part for m in doomed for part in (m.repository, m.digest.removeprefix("sha256:"))]
            await self._sh(_DELETE, storage, *pairs)
            result = await self.connector.run_command(
                [self.executable(), "garbage-collect", str(self._path("push.yml"))], timeout=600
            )
            if not result.ok:
                raise RegistryError(
                    endpoint, "garbage collection failed", evidence=tuple(result.stderr.strip().splitlines()[-10:])
                )
        finally:
            if was_running:
                await self._start("push", endpoint)
        after = parse_blob_sizes(await self._sh(_LIST_BLOBS, storage))
        freed = sum(size for blob, size in before.items() if blob not in after)
        return GarbageReport(
            deleted_manifests=tuple(doomed), blobs_before=len(before), blobs_after=len(after), bytes_freed=freed
        )


def registry_config(
    *,
    role: Role,
    listen: str,
    storage: PurePosixPath,
    htpasswd: PurePosixPath,
    certificate: PurePosixPath,
    key: PurePosixPath,
    http_secret: str,
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


_LIST_LINKS = r"""
root=$1/docker/registry/v2/repositories
[ -d "$root" ] || exit 0
find "$root" -path '*/_manifests/revisions/sha256/*/link' -o -path '*/_manifests/tags/*/current/link' |
while read -r f; do printf '%s\t%s\n' "${f#"$root"/}" "$(cat -- "$f")"; done
"""

_LIST_BLOBS = r"""
root=$1/docker/registry/v2/blobs/sha256
[ -d "$root" ] || exit 0
find "$root" -name data -type f -printf '%s %h\n'
"""

_DELETE = r"""
root=$1/docker/registry/v2/repositories; shift
while [ $# -gt 1 ]; do
  m=$root/$1/_manifests; rm -rf -- "$m/revisions/sha256/$2"
  [ -d "$m/tags" ] && find "$m/tags" -path "*/index/sha256/$2" -prune -exec rm -rf -- {} +
  shift 2
done
"""


def parse_manifest_links(text: str) -> list[StoredManifest]:
    """``find``'s ``<repository>/_manifests/…/link<TAB><digest>`` lines as manifests with their tags (pure)."""
    revisions: dict[tuple[str, str], None] = {}
    tags: dict[tuple[str, str], list[str]] = {}
    for line in text.splitlines():
        path, _, digest = line.partition("\t")
        repository, _, rest = path.partition("/_manifests/")
        parts = rest.split("/")
        if parts[0] == "revisions" and len(parts) == 4:
            revisions[(repository, digest.strip())] = None
        elif parts[0] == "tags" and len(parts) == 4:
            tags.setdefault((repository, digest.strip()), []).append(parts[1])
    return [
        StoredManifest(repository=repo, digest=ImageDigest(digest), tags=tuple(sorted(tags.get((repo, digest), []))))
        for repo, digest in sorted(revisions)
    ]


def parse_blob_sizes(text: str) -> dict[str, int]:
    """``find -printf '%s %h'`` lines (size, blob directory) as blob -> bytes (pure)."""
    sizes: dict[str, int] = {}
    for line in text.splitlines():
        size, _, directory = line.partition(" ")
        if size.isdigit():
            sizes[directory.rsplit("/", 1)[-1]] = int(size)
    return sizes


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
