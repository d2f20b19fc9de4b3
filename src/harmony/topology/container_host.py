"""``ContainerHost``: a Linux host as a place to run applications — podman, a load balancer, DNS, files, probes.

The composition root for applications on one host: each capability is delegated to its adapter
(``Podman``, ``Haproxy``, ``Dnsmasq``, files, probes). ``ContainerHost.isolated(dir)`` is this machine and
keeps everything under ``dir``: a podman store of its own (so it never sees the machine's other containers),
HAProxy's and dnsmasq's state (both answer on loopback only). ``ContainerHost.on(host)`` declares that a
``LinuxHost`` (over SSH, or local) is a container host: the same adapters work through the host's connector,
with their state under ``state_dir`` on that host, files written there and probes run from there (the
containers publish on that host's loopback, which only it can reach). Its ``ensure_ready`` installs the
Debian packages the role needs through the host's packages capability, or stops naming them before any
configuration is written. The daemons are started by the first change that needs them and keep running
after Harmony exits, like any site service; ``stop_services`` stops them.
``registry_logins`` are this host's own accounts on the site registry's endpoints (with the site CA): the
only registries it pulls from or pushes to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path, PurePosixPath
from typing import Final

from harmony.domain.capabilities.containers import ContainerRuntime, ContainerSummary, ImageInfo, ImageRef
from harmony.domain.capabilities.dns import DnsServer
from harmony.domain.capabilities.files import FileState, ManagedFiles
from harmony.domain.capabilities.load_balancer import LoadBalancer
from harmony.domain.capabilities.probes import Prober, ProbeResult
from harmony.domain.capabilities.registry import RegistryLogin
from harmony.domain.errors import RegistryAuthError, RegistryError, TopologyError
from harmony.domain.image_refs import ImageDigest, PinnedImage, RepositoryRef, TaggedImage
from harmony.domain.inventory import HostResources
from harmony.domain.topology import RunLock
from harmony.domain.values import IPAddress, Port
from harmony.infra.curl_probe import CurlProbe
from harmony.infra.dnsmasq import Dnsmasq
from harmony.infra.haproxy import Haproxy
from harmony.infra.local_connector import LocalConnector
from harmony.infra.local_files import LocalFiles
from harmony.infra.net_probe import NetProbe
from harmony.infra.podman import Podman, PodmanError
from harmony.infra.programs import BUSYBOX, CATATONIT, CURL, DNSMASQ, HAPROXY, PODMAN, RUNC, SOCAT
from harmony.infra.run_lock import LocalRunLock
from harmony.infra.shared_calls import SharedCalls
from harmony.infra.skopeo import Skopeo
from harmony.topology.forwarding import ForwardsContainerRuntime, ForwardsDnsServer, ForwardsLoadBalancer
from harmony.topology.linux_host import LinuxHost
from harmony.topology.prerequisites import require_packages

REQUIRED_PACKAGES: Final = tuple(
    dict.fromkeys(p.package for p in (PODMAN, RUNC, CATATONIT, HAPROXY, SOCAT, DNSMASQ, CURL, BUSYBOX))
)
"""The Debian packages a container host needs on its box (``ContainerHost.on``)."""

DEFAULT_STATE_DIR = PurePosixPath("/var/lib/harmony/apps")


_PLAN_LISTING: ContextVar[dict[tuple[tuple[str, str], ...], Sequence[ContainerSummary] | None] | None] = ContextVar(
    "harmony_plan_listing", default=None
)


@contextlib.contextmanager
def plan_listing_reused() -> Generator[None]:
    """Inside (a device agent's plan and apply, back to back under its lock, nothing else acting on the
    host): a listing of containers is kept and handed once to the next listing with the same labels (the
    apply's first read then costs no podman process); after that, every listing asks podman again."""
    token = _PLAN_LISTING.set({})
    try:
        yield
    finally:
        _PLAN_LISTING.reset(token)


class ContainerHost(ForwardsContainerRuntime, ForwardsLoadBalancer, ForwardsDnsServer):
    def __init__(
        self,
        *,
        name: str,
        podman: Podman,
        haproxy: Haproxy,
        dnsmasq: Dnsmasq,
        files: LocalFiles | None = None,
        registry_logins: Sequence[RegistryLogin] = (),
        host: LinuxHost | None = None,
        resources: HostResources | None = None,
    ) -> None:
        """Applications on this machine, or on ``host`` (whose connector the adapters must use); ``resources``
        (by default ``host``'s, from the inventory) let ``harmony check`` add up the containers' limits."""
        self._name = name
        self.registry_logins = tuple(registry_logins)
        self._skopeo = Skopeo()
        self.podman = podman
        self.haproxy = haproxy
        self.dnsmasq = dnsmasq
        self.host = host
        self.resources = resources if resources is not None else host.resources if host is not None else None
        self._files: ManagedFiles = host if host is not None else files or LocalFiles(Path("/"))
        self._probe: Prober = CurlProbe(host.connector) if host is not None else NetProbe()
        self._podman_worked = False  # seen answering once: a long-lived agent does not ask again every run
        self._pulls = SharedCalls[PinnedImage, str]()
        self._stored = set[ImageDigest]()  # digests pulled or found here before: probably still here

    @classmethod
    def on(
        cls,
        host: LinuxHost,
        *,
        state_dir: PurePosixPath = DEFAULT_STATE_DIR,
        dns_port: int = 53,
        dns_interfaces: Sequence[str] = ("lo",),
        registry_logins: Sequence[RegistryLogin] = (),
    ) -> ContainerHost:
        """``host`` becomes a container host: a podman store of its own, HAProxy and dnsmasq, all with their
        state under ``state_dir`` there; DNS answers on ``dns_interfaces`` at ``dns_port``."""
        connector = host.connector
        return cls(
            name=host.name,
            podman=Podman.isolated(state_dir / "podman", connector),
            haproxy=Haproxy(state_dir=state_dir / "haproxy", connector=connector),
            dnsmasq=Dnsmasq(
                state_dir=state_dir / "dnsmasq", connector=connector, port=dns_port, interfaces=dns_interfaces
            ),
            registry_logins=registry_logins,
            host=host,
        )

    @classmethod
    def isolated(
        cls,
        directory: Path,
        *,
        dns_port: int,
        name: str = "localhost",
        registry_logins: Sequence[RegistryLogin] = (),
        resources: HostResources | None = None,
    ) -> ContainerHost:
        """Everything under ``directory``: podman store (vfs), HAProxy, and dnsmasq on ``127.0.0.1:dns_port``."""
        directory = directory.absolute()
        return cls(
            name=name,
            podman=Podman.isolated(directory / "podman"),
            haproxy=Haproxy(state_dir=directory / "haproxy"),
            dnsmasq=Dnsmasq(state_dir=directory / "dnsmasq", port=dns_port, interfaces=("lo",)),
            registry_logins=registry_logins,
            resources=resources,
        )

    async def stop_services(self) -> None:
        """Stop the load balancer and DNS daemons (their configuration stays)."""
        await self.haproxy.stop()
        await self.dnsmasq.stop()

    @property
    def load_balancer(self) -> LoadBalancer:
        return self.haproxy

    @property
    def dns_server(self) -> DnsServer:
        return self.dnsmasq

    @property
    def name(self) -> str:
        return self._name

    async def ensure_ready(self) -> None:
        await self.connect()
        await self.prepare()

    async def connect(self) -> None:
        if self.host is not None:
            await self.host.ensure_ready()

    async def prepare(self) -> bool:
        """The role's packages (installed when missing, else ``MissingPackageError``, before anything else is
        written) and podman's store: all read at once (one round trip to a remote host), podman checked again
        when something had to be made."""
        installed, conf_missing, problem = await asyncio.gather(
            self._require_packages(), self.podman.conf_missing(), self._podman_problem(), return_exceptions=True
        )
        if isinstance(installed, BaseException):  # first: the missing package explains the rest
            raise installed
        if isinstance(conf_missing, BaseException):
            raise conf_missing
        if isinstance(problem, BaseException) and not isinstance(problem, PodmanError):  # a podman error is returned
            raise problem
        if conf_missing:
            await self.podman.write_conf()
        changed = bool(installed) or conf_missing
        if changed:
            self._podman_worked = False  # it answered before its configuration was written: ask again
            problem = await self._podman_problem()
        if problem is not None:
            fix = "run scripts/install" if self.host is None else f"check podman on {self._name}"
            raise TopologyError(self._name, f"podman is not usable: {problem} ({fix})") from problem
        return changed

    async def _require_packages(self) -> list[str]:
        if self.host is None:
            return []
        return await require_packages(self.host, REQUIRED_PACKAGES, role="a container host", where=self._name)

    async def _podman_problem(self) -> PodmanError | None:
        """Why podman does not work, asked once per host object: afterwards a broken podman fails the command
        that meets it, with podman's own error (a device agent applies for months; one process fewer each time)."""
        if self._podman_worked:
            return None
        try:
            await self.podman.list_images()
        except PodmanError as e:
            return e
        self._podman_worked = True
        return None

    async def close(self) -> None:
        if self.host is not None:
            await self.host.close()

    def run_lock(self) -> RunLock:
        """Runs on this host take turns: on the box itself for a remote host, else a lock file beside HAProxy's
        state (one per isolated host)."""
        if self.host is not None and not isinstance(self.host.connector, LocalConnector):
            return self.host.run_lock()
        return LocalRunLock(Path(self.haproxy.state_dir.parent) / "run.lock", topology=self._name)

    @property
    def container_runtime(self) -> ContainerRuntime:
        return self.podman

    # RegistryClient

    def login_for(self, endpoint: str) -> RegistryLogin:
        """This host's login for a registry endpoint; ``RegistryAuthError`` naming the ones it has otherwise."""
        found = next((login for login in self.registry_logins if login.endpoint == endpoint), None)
        if found is None:
            known = ", ".join(login.endpoint for login in self.registry_logins) or "none"
            raise RegistryAuthError(
                endpoint, f"host {self._name} has no login for registry {endpoint} (it has: {known}); "
                "add a RegistryLogin with its own account and the site CA",
            )  # fmt: skip
        return found

    async def push_image(self, image: ImageRef, destination: TaggedImage) -> ImageDigest:
        return await self.podman.push_image(image, destination, self.login_for(destination.repository.registry))

    async def pull_image(self, image: PinnedImage, *, likely_new: bool = False) -> str:
        """Callers pulling the same image at once share one pull (an agent's, started while it plans, and its
        apply's). A likely new image not seen here before is pulled without a look first (a podman process
        fewer in a rollout); an image seen before is looked for first (a rollback needs no registry)."""
        fetch_first = likely_new and image.digest not in self._stored
        return await self._pulls.call(image, lambda: self._pull(image, fetch_first=fetch_first))

    async def _pull(self, image: PinnedImage, *, fetch_first: bool) -> str:
        if fetch_first:
            try:
                image_id = await self.podman.fetch_image(image, self.login_for(image.registry))
            except RegistryError:
                found = await self.podman.inspect_image(image)  # here after all: the registry was not needed
                if found is None:
                    raise
                image_id = found.id
        else:
            found = await self.podman.inspect_image(image)  # already here: no login needed, no registry asked
            image_id = (
                found.id if found is not None else await self.podman.fetch_image(image, self.login_for(image.registry))
            )
        self._stored.add(image.digest)
        return image_id

    async def registry_image_labels(self, image: TaggedImage) -> tuple[ImageDigest, dict[str, str]] | None:
        return await self._skopeo.image_labels(image, self.login_for(image.repository.registry))

    async def local_image_digests(self, repository: RepositoryRef) -> Sequence[tuple[ImageDigest, ImageInfo]]:
        return await self.podman.local_image_digests(repository)

    async def list_container_summaries(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerSummary]:
        memo = _PLAN_LISTING.get()
        key = tuple(sorted((labels or {}).items()))
        if memo is not None and key in memo:  # the plan's listing, handed over once (None: handed already)
            kept, memo[key] = memo[key], None
            if kept is not None:
                return kept
        listed = await self.podman.list_container_summaries(labels)
        if memo is not None and key not in memo:  # the first listing under plan_listing_reused: kept
            memo[key] = listed
        return listed

    # ManagedFiles

    async def stat_files(
        self, paths: Sequence[PurePosixPath], *, with_content: bool
    ) -> Mapping[PurePosixPath, FileState]:
        return await self._files.stat_files(paths, with_content=with_content)

    async def write_file(
        self, path: PurePosixPath, content: bytes, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._files.write_file(path, content, mode=mode, owner=owner, group=group)

    async def make_directory(
        self, path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None
    ) -> None:
        await self._files.make_directory(path, mode=mode, owner=owner, group=group)

    async def remove_path(self, path: PurePosixPath) -> None:
        await self._files.remove_path(path)

    # Prober

    async def http_get(self, address: IPAddress, port: Port, path: str, *, host: str, timeout: float) -> ProbeResult:
        return await self._probe.http_get(address, port, path, host=host, timeout=timeout)

    async def tcp_connect(self, address: IPAddress, port: Port, *, timeout: float) -> ProbeResult:
        return await self._probe.tcp_connect(address, port, timeout=timeout)
