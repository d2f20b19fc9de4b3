"""A host's login to a registry endpoint as the files podman and skopeo read, and their errors translated.

The password goes into an auth file (mode 0600, in a 0700 directory that is removed afterwards), never onto
a command line where ``ps`` would show it. ``--cert-dir`` holds only the site CA: the system's CAs are not
consulted for the registry (containers/image uses ``ca.crt`` from that directory as the trusted roots).
``login_files`` writes them on this machine; ``remote_login_files`` on the host behind a connector (where
podman runs).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from harmony.domain.capabilities.commands import CommandRunner
from harmony.domain.capabilities.files import ManagedFiles
from harmony.domain.capabilities.registry import RegistryLogin
from harmony.domain.errors import (
    ImageNotInRegistryError,
    RegistryAuthError,
    RegistryCertificateError,
    RegistryError,
    RegistryUnreachableError,
)
from harmony.infra.local_connector import LocalConnector


@dataclass(frozen=True)
class LoginFiles:
    authfile: PurePosixPath
    cert_dir: PurePosixPath

    def options(self) -> list[str]:
        return ["--authfile", str(self.authfile), "--cert-dir", str(self.cert_dir)]


@contextmanager
def login_files(login: RegistryLogin, *, parent: Path | None = None) -> Generator[LoginFiles]:
    """The auth file and certificate directory for ``login``, removed on exit."""
    directory = Path(tempfile.mkdtemp(prefix="harmony-login-", dir=parent))
    try:
        os.chmod(directory, 0o700)
        authfile = directory / "auth.json"
        fd = os.open(authfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(_auth_json(login))
        certs = directory / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_text(login.ca_certificate)
        yield LoginFiles(PurePosixPath(authfile), PurePosixPath(certs))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class _Host(ManagedFiles, CommandRunner, Protocol):
    """Files and commands on the host where podman runs (a connector)."""


@asynccontextmanager
async def remote_login_files(login: RegistryLogin, host: _Host) -> AsyncGenerator[LoginFiles]:
    """The same files on ``host``, in a fresh ``mktemp -d`` directory (0700) removed on exit; on this machine
    (a connector that does not re-root paths) written in-process, without two programs around every pull."""
    if isinstance(host, LocalConnector) and host.prefix is None:
        with login_files(login) as files:
            yield files
        return
    made = await host.run_command(["mktemp", "-d", "/tmp/harmony-login-XXXXXXXX"], timeout=30)
    if not made.ok:
        raise RegistryError(login.endpoint, f"cannot create a directory for the registry login: {made.stderr.strip()}")
    directory = PurePosixPath(made.stdout.strip())
    try:
        await host.write_file(directory / "auth.json", _auth_json(login), mode=0o600, owner=None, group=None)
        await host.make_directory(directory / "certs", mode=0o700, owner=None, group=None)
        await host.write_file(
            directory / "certs" / "ca.crt", login.ca_certificate.encode(), mode=0o644, owner=None, group=None
        )
        yield LoginFiles(directory / "auth.json", directory / "certs")
    finally:
        await host.run_command(["rm", "-rf", "--", str(directory)], timeout=30)


def _auth_json(login: RegistryLogin) -> bytes:
    token = base64.b64encode(f"{login.user}:{login.password.reveal()}".encode()).decode()
    return json.dumps({"auths": {login.endpoint: {"auth": token}}}).encode()


_UNREACHABLE = re.compile(r"connection refused|no route to host|i/o timeout|network is unreachable|no such host|EOF")
_CERTIFICATE = re.compile(r"x509:|certificate signed by unknown authority|certificate is not valid|tls:")
_AUTH = re.compile(r"unauthorized|authentication required|requested access to the resource is denied|denied")
_READ_ONLY = re.compile(
    r"read-only mode|operation is unsupported|StatusCode: 405|405 Method Not Allowed", re.IGNORECASE
)
_NOT_FOUND = re.compile(r"manifest unknown|not found|name unknown|404")


def registry_error(endpoint: str, action: str, stderr: str) -> RegistryError:
    """The most specific ``RegistryError`` for what podman or skopeo printed while doing ``action``."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip() and "level=warning" not in ln]
    last = (lines or ["(no output)"])[-1].removeprefix("Error: ")
    evidence = tuple(lines[-10:])
    if _CERTIFICATE.search(stderr):
        return RegistryCertificateError(
            endpoint,
            f"{action}: the certificate of {endpoint} is not signed by the trusted site CA "
            f"(is the login's ca_certificate the site CA's?): {last}",
            evidence=evidence,
        )
    if _READ_ONLY.search(stderr):
        return RegistryAuthError(
            endpoint, f"{action}: {endpoint} is the read-only pull endpoint; push to the push endpoint: {last}",
            evidence=evidence,
        )  # fmt: skip
    if _AUTH.search(stderr):
        return RegistryAuthError(
            endpoint, f"{action}: {endpoint} refused this host's account (check its user and password): {last}",
            evidence=evidence,
        )  # fmt: skip
    if _UNREACHABLE.search(stderr):
        return RegistryUnreachableError(
            endpoint, f"{action}: registry {endpoint} is unreachable: {last}", evidence=evidence
        )
    if _NOT_FOUND.search(stderr):
        return ImageNotInRegistryError(endpoint, f"{action}: {endpoint} has no such image: {last}", evidence=evidence)
    return RegistryError(endpoint, f"{action}: {last}", evidence=evidence)
