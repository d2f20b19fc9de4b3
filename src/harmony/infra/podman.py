"""``Podman``: the ``ContainerRuntime`` capability through the podman CLI, run on the target host.

Every podman command and file check goes through the host's connector: this machine (in-process, optionally
in a network namespace) or a remote host over SSH, with one implementation. Image archives and volume
sources are paths *on that host*.

Runs rootful podman 4 as set up in COMPONENTS.md: runc, cgroupfs, lowered ulimits and the file events logger
come from a ``containers.conf`` passed as ``CONTAINERS_CONF`` (``conf``); ``root``/``runroot`` give an isolated
store (tests use one per run, with the ``vfs`` driver). No image is ever pulled (``--pull=never``).
A container with a ``pod`` joins it by name (``--pod``, no look first); only when podman says there is no such pod
is it created (``pod create --share=net`` with the spec's ports) and the run tried again. A pod without its infra
container is waited for (another start may be creating it), then removed and created again (a ``pod create`` was
killed half-way: no container could ever join it). The pod's infra container runs podman's pause image, which
podman builds in the store from catatonit. A pod of that name that someone else made is joined as it is: Harmony's
pod names are its applications' (``<app>-a1-<port>``).

Ownership is by label (see the capability): every container this adapter creates carries
``io.harmony.managed=true`` and its restart policy as ``io.harmony.restart``; podman's own ``--restart`` is not
used because without systemd nothing restarts containers after a crash — ``ContainerSupervisor`` does.
Health checks are registered with ``--health-interval=disable`` (podman would need systemd timers) and run
by the supervisor through ``podman healthcheck run``.
Secrets in a container's environment never reach a command line (``ps`` shows every argv to every local
user): they are written to an env file (0600, in a fresh 0700 ``mktemp -d`` directory on the target host,
through the connector's stdin) that ``podman run --env-file`` reads, and the directory is removed as soon as
podman has created the container. Keeping it would only add a copy: podman stores the environment in the
container's own configuration anyway (readable by root through ``podman inspect``, as for every variable).
"Running on return" from ``run_container`` means: still running ``SETTLE_SECONDS`` after podman started it;
a process that dies later is the supervisor's (and the smoke test's) business.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import shlex
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Any, cast

from harmony.domain.capabilities.containers import (
    MANAGED_LABEL,
    MANAGED_POD_LABEL,
    POD_LABEL,
    RESTART_LABEL,
    ContainerInfo,
    ContainerSpec,
    ContainerState,
    ContainerSummary,
    ImageInfo,
    ImageRef,
    PortMapping,
    PublishedPort,
    secret_names,
)
from harmony.domain.capabilities.registry import RegistryLogin
from harmony.domain.errors import (
    CommandError,
    ContainerError,
    ContainerNotFoundError,
    ContainerStartError,
    FilesError,
    ForeignContainerError,
    ImageNotFoundError,
)
from harmony.domain.image_refs import ImageDigest, PinnedImage, RepositoryRef, TaggedImage
from harmony.domain.secret import Secret
from harmony.domain.units import MiB
from harmony.infra.connector import Connector
from harmony.infra.local_connector import LocalConnector
from harmony.infra.programs import CATATONIT, ENV, PODMAN, RUNC, SH
from harmony.infra.registry_login import registry_error, remote_login_files


class PodmanError(ContainerError):
    """A podman command failed in a way no more specific error describes."""


CONTAINERS_CONF = f"""\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
init_path = "{CATATONIT.directory}/{CATATONIT.name}"
[engine]
runtime = "{RUNC.name}"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
SETTLE_SECONDS = 0.3
POD_CREATION_SECONDS = 3.0  # how long a pod may lack its infra container while another start creates it
# "$@" is podman with this store's options; a container removed between the two commands is left out.
_LIST_AND_INSPECT = """
names=$("$@" ps -a --format '{{.Names}}' FILTERS) || exit
if [ -z "$names" ]; then echo '[]'; exit 0; fi
"$@" container inspect --format json $names
status=$?; [ "$status" -le 125 ] || exit "$status"
"""
_STATES: frozenset[str] = frozenset({"created", "running", "paused", "exited", "stopped"})


class Podman:
    """Rootful podman on the host behind ``connector`` (this machine when none is given).

    ``root``/``runroot`` select an isolated store, ``conf`` a containers.conf: paths on that host.
    """

    def __init__(
        self,
        connector: Connector | None = None,
        *,
        root: PurePosixPath | None = None,
        runroot: PurePosixPath | None = None,
        storage_driver: str | None = None,
        conf: PurePosixPath | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.connector: Connector = connector or LocalConnector(name="localhost")
        self.root = root
        self.runroot = runroot
        self.storage_driver = storage_driver
        self.conf = conf
        # Harmony's pods seen running a container: name -> (id, published ports). A pod's ports never change
        # while it lives, so a start pinned to its id (``--pod=<id>``) knows them without an inspect.
        self._pods: dict[str, tuple[str, tuple[PublishedPort, ...]]] = {}
        self.timeout = timeout

    @property
    def _here(self) -> bool:
        """Podman runs on this machine: its programs are checked against the registry before use."""
        return isinstance(self.connector, LocalConnector)

    @classmethod
    def isolated(cls, directory: Path | PurePosixPath, connector: Connector | None = None) -> Podman:
        """A store of its own under ``directory`` (vfs driver) with its own containers.conf.

        podman refuses a run root longer than 50 characters, so that one lives under
        ``/run/harmony-podman/<hash of directory>``.
        """
        directory = PurePosixPath(Path(directory).absolute() if connector is None else directory)
        tag = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
        return cls(
            connector,
            root=directory / "storage",
            runroot=PurePosixPath("/run/harmony-podman") / tag,
            storage_driver="vfs",
            conf=directory / "containers.conf",
        )

    async def prepare(self) -> bool:
        """Write this store's containers.conf on the host when it is missing (runc, cgroupfs, ulimits); whether
        it was missing."""
        if not await self.conf_missing():
            return False
        await self.write_conf()
        return True

    async def conf_missing(self) -> bool:
        """This store has a containers.conf of its own, and it is not on the host."""
        if self.conf is None:
            return False
        return (await self.connector.stat_files([self.conf], with_content=False))[self.conf].kind == "missing"

    async def write_conf(self) -> None:
        if self.conf is None:
            return
        made = await self.connector.run_command(["mkdir", "-p", "--", str(self.conf.parent)], timeout=30)
        if not made.ok:
            raise PodmanError(f"cannot create {self.conf.parent} for containers.conf: {made.stderr.strip()}")
        await self.connector.write_file(self.conf, CONTAINERS_CONF.encode(), mode=0o644, owner=None, group=None)

    @property
    def base_argv(self) -> list[str]:
        """``podman`` with the global options selecting this store: what a user types to look around."""
        argv = [PODMAN.name]
        if self.root is not None:
            argv += ["--root", str(self.root)]
        if self.runroot is not None:
            argv += ["--runroot", str(self.runroot)]
        if self.storage_driver is not None:
            argv += ["--storage-driver", self.storage_driver]
        return argv

    def argv(self, *args: str) -> list[str]:
        """The full command line for ``podman ARGS`` on this store, with ``CONTAINERS_CONF`` when set."""
        if self._here:
            PODMAN.require()
        conf = [ENV.name, f"CONTAINERS_CONF={self.conf}"] if self.conf is not None else []
        return [*conf, *self.base_argv, *args]

    async def _run(
        self, *args: str, timeout: float | None = None, check: bool = True, reads_only: bool = False
    ) -> tuple[int, str, str]:
        """``podman ARGS``; ``reads_only`` (it changes nothing): with the connector's other reads of this tick."""
        run = self.connector.read_command if reads_only else self.connector.run_command
        try:
            result = await run(self.argv(*args), timeout=timeout or self.timeout)
        except CommandError as e:
            raise PodmanError(f"podman {' '.join(args[:2])}: {e.stderr}") from e
        if check and not result.ok:
            raise PodmanError(
                f"podman {' '.join(args[:3])} exited {result.exit_status}: {_last_error(result.stderr)}",
                evidence=tuple(result.stderr.strip().splitlines()[-10:]),
            )
        return result.exit_status, result.stdout, result.stderr

    # Images

    async def import_image(
        self, archive: PurePosixPath, ref: ImageRef, *, labels: Mapping[str, str] | None = None
    ) -> ImageInfo:
        await self._must_exist(archive, "image archive")
        changes = [f"--change=LABEL={k}={v}" for k, v in sorted((labels or {}).items())]
        await self._run("import", *changes, str(archive), ref.qualified)
        return await self._image_or_fail(ref)

    async def build_image(self, context: PurePosixPath, ref: ImageRef) -> ImageInfo:
        await self._must_exist(context, "build context")
        await self._run("build", "--pull=never", "--network=none", "-t", ref.qualified, str(context))
        return await self._image_or_fail(ref)

    async def load_image(self, archive: PurePosixPath) -> Sequence[ImageInfo]:
        await self._must_exist(archive, "image archive")
        _, out, _ = await self._run("load", "-i", str(archive))
        names = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Loaded image")]
        infos = [await self.inspect_image(ImageRef(n.split(",")[0].strip())) for n in names]
        return [i for i in infos if i is not None]

    async def tag_image(self, image: ImageRef, ref: ImageRef) -> None:
        await self._image_or_fail(image)
        await self._run("tag", image.qualified, ref.qualified)

    async def list_images(self) -> Sequence[ImageInfo]:
        _, out, _ = await self._run("images", "--format", "json", reads_only=True)
        return [ImageInfo(id=i["Id"], tags=tuple(i.get("Names") or ())) for i in _json_list(out)]

    async def inspect_image(self, ref: ImageRef | PinnedImage) -> ImageInfo | None:
        status, out, _ = await self._run(
            "image", "inspect", "--format", "json", ref.qualified, check=False, reads_only=True
        )
        if status != 0:
            return None
        (data,) = _json_list(out)
        digest = str(data.get("Digest") or "")
        return ImageInfo(
            id=data["Id"],
            tags=tuple(data.get("RepoTags") or ()),
            labels=cast(dict[str, str], data.get("Labels") or {}),
            digest=ImageDigest(digest) if digest.startswith("sha256:") else None,
        )

    async def remove_image(self, ref: ImageRef) -> None:
        if await self.inspect_image(ref) is not None:
            await self._run("rmi", ref.qualified)

    async def remove_image_if_unused(self, image_id: str) -> bool:
        status, out, _ = await self._run("image", "inspect", "--format", "json", image_id, check=False, reads_only=True)
        if status != 0:
            return False
        (data,) = _json_list(out)
        if data.get("RepoTags"):
            return False
        status, _, _ = await self._run("rmi", image_id, check=False)  # refused while a container uses it
        return status == 0

    # Registry (the only place podman talks to the network; see registry_login.py)

    async def push_image(self, image: ImageRef, destination: TaggedImage, login: RegistryLogin) -> ImageDigest:
        """Push a local image to ``destination``; the digest of the manifest the registry stored."""
        await self._image_or_fail(image)
        async with remote_login_files(login, self.connector) as files:
            digest_file = files.authfile.parent / "digest"
            status, _, err = await self._run(
                "push", *files.options(), "--digestfile", str(digest_file), image.qualified, destination,
                check=False,
            )  # fmt: skip
            if status != 0:
                raise registry_error(login.endpoint, f"push of {image} to {destination} failed", err)
            found = (await self.connector.stat_files([digest_file], with_content=True))[digest_file]
            return ImageDigest((found.content or b"").decode().strip())

    async def pull_image(self, image: PinnedImage, login: RegistryLogin) -> str:
        """Fetch ``image`` by digest unless the store has it; podman writes it whole or not at all. The id of
        the image in the store."""
        found = await self.inspect_image(image)
        return found.id if found is not None else await self.fetch_image(image, login)

    async def fetch_image(self, image: PinnedImage, login: RegistryLogin) -> str:
        """``pull_image`` for a caller that has just looked for ``image`` and not found it: no look first, and
        none after (``--quiet`` prints the id; a look costs a device's rollout a podman process)."""
        async with remote_login_files(login, self.connector) as files:
            status, out, err = await self._run("pull", "--quiet", *files.options(), image, check=False)
        if status != 0:
            raise registry_error(login.endpoint, f"pull of {image}", err)
        printed = out.split()
        return printed[-1] if printed else (await self._image_or_fail(image)).id

    async def local_image_digests(self, repository: RepositoryRef) -> Sequence[tuple[ImageDigest, ImageInfo]]:
        """Images of ``repository`` pulled by digest, newest first (by creation time)."""
        _, out, _ = await self._run("images", "--format", "json", reads_only=True)
        found: list[tuple[int, ImageDigest, ImageInfo]] = []
        for data in _json_list(out):
            for pinned in cast(list[str], data.get("RepoDigests") or []):
                name, _, digest = pinned.partition("@")
                if name == repository:
                    info = ImageInfo(id=str(data["Id"]), tags=tuple(cast(list[str], data.get("Names") or ())))
                    found.append((int(data.get("Created") or 0), ImageDigest(digest), info))
        return [(d, i) for _, d, i in sorted(found, key=lambda f: f[0], reverse=True)]

    async def _image_or_fail(self, ref: ImageRef | PinnedImage) -> ImageInfo:
        info = await self.inspect_image(ref)
        if info is None:
            known = tuple(t for i in await self.list_images() for t in i.tags)
            raise ImageNotFoundError(str(ref), known)
        return info

    # Containers

    async def run_container(self, spec: ContainerSpec, *, settle: bool = True) -> ContainerInfo:
        if self._here:
            RUNC.require()
            if spec.init:
                CATATONIT.require()
        if spec.volumes:
            sources = await self.connector.stat_files([v.source for v in spec.volumes], with_content=False)
            for v in spec.volumes:
                if sources[v.source].kind == "missing":
                    raise ContainerStartError(
                        spec.name, f"volume source {v.source} does not exist on the host (for target {v.target})"
                    )
        # podman writes the id of the container it created to the cidfile, and nothing when it created none
        # (a name already in use): a failed run is then discarded by that id, never a container that had the
        # name before — without a look for the name before every start (one podman process fewer each).
        made = False  # the pod, by this start
        patience: float | None = None  # when a pod without its infra container is taken for broken
        while True:
            cidfile = PurePosixPath(f"/tmp/harmony-cid-{secrets.token_hex(12)}")
            try:
                return await self._run_with_cidfile(spec, cidfile, settle=settle)
            except _NoSuchPod as e:
                assert spec.pod is not None, "only a start in a pod misses its pod"
                now = asyncio.get_running_loop().time()
                if e.broken:  # being created by another start right now, or a `pod create` killed half-way
                    patience = now + POD_CREATION_SECONDS if patience is None else patience
                    if now < patience:
                        await asyncio.sleep(0.2)
                        continue
                if made:
                    raise ContainerStartError(spec.name, f"{e}, even after it was created again") from None
                if e.broken:  # no container can ever join it
                    await self.remove_pod(spec.pod)
                # Looked for only when a run says it is missing: a pod is made once and joined many times.
                await self._create_pod(spec.name, spec.pod, spec.ports)
                made = True
            finally:
                with contextlib.suppress(FilesError):
                    await self.connector.remove_path(cidfile)

    async def _create_pod(self, container: str, pod: str, ports: Sequence[PortMapping]) -> None:
        self._pods.pop(pod, None)
        if self._here:
            CATATONIT.require()  # the pod's infra container runs podman's pause image, which it builds from catatonit
        status, _, err = await self._run(*pod_create_argv(pod, ports), check=False)
        if status != 0 and "already exists" not in err:  # made by a concurrent start meanwhile: joined as is
            raise ContainerStartError(
                container, f"cannot create its pod {pod}: {_last_error(err)}", evidence=tuple(err.splitlines()[-10:])
            )

    async def _run_with_cidfile(self, spec: ContainerSpec, cidfile: PurePosixPath, *, settle: bool) -> ContainerInfo:
        # A start into a pod seen before, by its id: it joins that very pod (a pod made again since has
        # another id, and the start then fails as "no such pod"), whose ports are known.
        known = self._pods.pop(spec.pod, None) if spec.pod is not None and not settle else None
        try:
            async with self._env_file(spec) as env_file:
                argv = run_argv(spec, env_file=env_file, cidfile=cidfile, pod_id=known[0] if known else None)
                status, out, err = await self._run(*argv, check=False)
        except PodmanError as e:  # timed out: the container may be stuck starting (`runc init` never done)
            with contextlib.suppress(ContainerError):
                created = await self._created(cidfile)
                await self.remove_container(spec.name, grace=0, listed=created)
            raise ContainerStartError(
                spec.name, f"{e}; it was removed. Is the host overloaded, or an OCI hook stuck?"
            ) from e
        if status != 0:
            created = await self._created(cidfile)
            if created is None and spec.pod is not None and "no such pod" in err:
                raise _NoSuchPod(f"its pod {spec.pod} does not exist", broken=False)
            if created is None and spec.pod is not None and "pod has no infra container" in err:
                raise _NoSuchPod(f"its pod {spec.pod} has no infra container", broken=True)
            if created is None:  # nothing created: the name is taken, or podman refused before creating
                existing = await self.inspect_container(spec.name)
                if existing is not None:
                    if not _managed(existing):
                        raise ForeignContainerError(spec.name)
                    raise ContainerStartError(spec.name, "a container of that name already exists; remove it first")
            # An unknown image makes `podman run --pull=never` fail before it creates anything: looked into
            # only then (one podman call fewer per start, which a fleet of small devices feels).
            await self._image_or_fail(spec.image)
            if created is not None:
                await self._discard(created.id)
            raise ContainerStartError(spec.name, _last_error(err), evidence=tuple(err.strip().splitlines()[-10:]))
        if known is not None and spec.pod is not None:  # no look: what the start did is known
            self._pods[spec.pod] = known
            return ContainerInfo(
                id=out.strip(), name=spec.name, image=spec.image.qualified, state="running",
                labels=container_labels(spec), ports=known[1],
                health_retries=spec.health.retries if spec.health is not None else None,
            )  # fmt: skip
        if settle:  # a process that dies right away (bad command, port taken inside the container) is exited by now
            await asyncio.sleep(SETTLE_SECONDS)
        info = await self.inspect_container(spec.name)
        if info is None or not info.running:
            logs = await self.container_logs(spec.name, tail=20) if info is not None else ()
            await self._discard(spec.name)
            code = f" (exit code {info.exit_code})" if info is not None else ""
            raise ContainerStartError(spec.name, f"it exited right after starting{code}", evidence=tuple(logs))
        return info

    async def _created(self, cidfile: PurePosixPath) -> ContainerInfo | None:
        """The container a ``podman run --cidfile`` created, as it is now (``None``: it created none)."""
        found = (await self.connector.stat_files([cidfile], with_content=True))[cidfile].content
        container_id = (found or b"").decode(errors="replace").strip()
        return await self.inspect_container(container_id) if container_id else None

    @asynccontextmanager
    async def _env_file(self, spec: ContainerSpec) -> AsyncGenerator[PurePosixPath | None]:
        """The spec's secret variables in a private file on the host, removed on exit (``None``: it has none)."""
        if not secret_names(spec.env):
            yield None
            return
        made = await self.connector.run_command(["mktemp", "-d", "/tmp/harmony-env-XXXXXXXX"], timeout=30)
        if not made.ok:
            raise ContainerStartError(spec.name, f"cannot create a private directory for its env file: {made.stderr}")
        directory = PurePosixPath(made.stdout.strip())
        try:
            path = directory / "env"
            await self.connector.write_file(path, env_file_content(spec), mode=0o600, owner=None, group=None)
            yield path
        finally:
            await self.connector.run_command(["rm", "-rf", "--", str(directory)], timeout=30)

    async def _discard(self, container: str) -> None:
        """Remove ``container`` (a name or an id) at once, whatever its state; gone already is fine."""
        await self._run("rm", "-f", "-t", "0", container, check=False)

    async def list_containers(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerInfo]:
        # One command lists and inspects them (a listing then an inspection would be two round trips).
        script = _LIST_AND_INSPECT.replace("FILTERS", shlex.join(_label_filters(labels)))
        try:
            result = await self.connector.read_command(
                [SH.name, "-c", script, "sh", *self.argv()], timeout=self.timeout
            )
        except CommandError as e:
            raise PodmanError(f"podman ps: {e.stderr}") from e
        if not result.ok:
            raise PodmanError(
                f"podman ps -a exited {result.exit_status}: {_last_error(result.stderr)}",
                evidence=tuple(result.stderr.strip().splitlines()[-10:]),
            )
        return [_parse_container(d) for d in _json_list(result.stdout)]

    async def list_container_summaries(self, labels: Mapping[str, str] | None = None) -> Sequence[ContainerSummary]:
        _, out, _ = await self._run("ps", "-a", "--format", "json", *_label_filters(labels), reads_only=True)
        listed = _json_list(out)
        summaries = [_parse_summary(d) for d in listed]
        for data, summary in zip(listed, summaries, strict=True):
            self._seen_in_pod(summary, str(data.get("Pod") or ""))
        return summaries

    def _seen_in_pod(self, container: ContainerSummary, pod_id: str) -> None:
        pod = container.labels.get(POD_LABEL)
        if pod and pod_id and container.running and container.ports:
            self._pods[pod] = (pod_id, container.ports)

    async def list_pods(self) -> Sequence[str]:
        _, out, _ = await self._run(
            "pod", "ps", "--format", "json", f"--filter=label={MANAGED_POD_LABEL}=true", reads_only=True
        )
        return sorted(str(d["Name"]) for d in _json_list(out))

    async def remove_pod(self, name: str) -> None:
        if name not in await self.list_pods():  # a pod someone else made is not touched
            return
        _, out, _ = await self._run("ps", "-a", "--format", "json", f"--filter=pod={name}", reads_only=True)
        theirs = sorted(
            str(n)
            for d in _json_list(out)
            if not d.get("IsInfra") and not _managed(_parse_summary(d))
            for n in d["Names"]
        )
        if theirs:  # removing the pod would remove them with it
            raise PodmanError(f"pod {name} holds containers Harmony did not create ({', '.join(theirs)}); left as is")
        self._pods.pop(name, None)
        await self._run("pod", "rm", "-f", "-t", "0", "--ignore", name)

    async def inspect_container(self, name: str) -> ContainerInfo | None:
        status, out, _ = await self._run("container", "inspect", "--format", "json", name, check=False, reads_only=True)
        if status != 0:
            return None
        (data,) = _json_list(out)
        info = _parse_container(data)
        self._seen_in_pod(info, str(data.get("Pod") or ""))
        return info

    async def _own(self, name: str) -> ContainerInfo:
        info = await self.inspect_container(name)
        if info is None:
            raise ContainerNotFoundError(name)
        if not _managed(info):
            raise ForeignContainerError(name)
        return info

    async def start_container(self, name: str) -> ContainerInfo:
        await self._own(name)
        status, _, err = await self._run("start", name, check=False)
        info = await self.inspect_container(name)
        if status != 0 or info is None or not info.running:
            logs = await self.container_logs(name, tail=20)
            raise ContainerStartError(name, _last_error(err) or "it is not running", evidence=tuple(logs))
        return info

    async def stop_container(self, name: str, *, grace: float = 10.0) -> None:
        await self._own(name)
        await self._run("stop", "-t", str(max(0, round(grace))), name, timeout=grace + self.timeout)

    async def remove_container(self, name: str, *, grace: float = 10.0, listed: ContainerSummary | None = None) -> None:
        if listed is not None and listed.name != name:
            raise ValueError(f"remove_container({name!r}) was given the listing of {listed.name!r}")
        info = listed or await self.inspect_container(name)
        if info is None:
            return
        if not _managed(info):
            raise ForeignContainerError(name)
        if info.state in ("created", "unknown"):  # never started, or stuck starting or stopping
            await self._kill_unfinished_start(info.id)
        # By id when listed: `rm -f` of an id that is gone succeeds, and a container that took the name since
        # (not the one listed) is not touched.
        target = info.id if listed is not None else name
        await self._run("rm", "-f", "-t", str(max(0, round(grace))), target, timeout=grace + self.timeout)

    async def _kill_unfinished_start(self, container_id: str) -> None:
        """Kill the ``conmon`` of a container that never finished starting, and all it runs (``runc create``,
        its hooks; ``runc init`` dies with its parent). ``podman rm -f`` alone removes such a container from
        the store but leaves them running for good."""
        _, out, _ = await self._run(
            "container", "inspect", "--format", "{{.ConmonPidFile}}", container_id, check=False, reads_only=True
        )
        if not out.strip():
            return
        result = await self.connector.run_command(
            [SH.name, "-c", _KILL_CONMON, "sh", out.strip(), container_id], timeout=self.timeout
        )
        if not result.ok:
            raise PodmanError(f"cannot stop the unfinished start of container {container_id[:12]}: {result.stderr}")

    async def exec_in_container(self, name: str, argv: Sequence[str], *, timeout: float) -> tuple[int, str]:
        await self._own(name)
        try:
            status, out, err = await self._run("exec", name, *argv, timeout=timeout, check=False)
        except PodmanError as e:
            return 124, str(e)
        return status, out + err

    async def check_health(self, name: str) -> bool:
        # podman would need systemd timers to run checks by itself; here each call runs one.
        await self._own(name)
        status, out, err = await self._run("healthcheck", "run", name, check=False)
        if status not in (0, 1):
            raise PodmanError(f"health check of {name!r}: {_last_error(err) or out.strip()}")
        return status == 0

    async def container_logs(self, name: str, *, tail: int = 50) -> Sequence[str]:
        status, out, err = await self._run("logs", "--tail", str(tail), name, check=False)
        if status != 0:
            return []
        # podman replays the container's stdout on our stdout and its stderr on our stderr.
        return (out + err).splitlines()[-tail:]

    async def follow_logs(self, name: str, *, tail: int = 0) -> AsyncIterator[str]:
        await self._own(name)
        async for line in self.connector.follow_lines(self.argv("logs", "-f", "--tail", str(tail), name)):
            yield line

    async def _must_exist(self, path: PurePosixPath, what: str) -> None:
        # a stat (coalesced with other reads), before a podman command that takes far longer
        if (await self.connector.stat_files([path], with_content=False))[path].kind == "missing":
            raise PodmanError(f"{what} {path} does not exist on the host")


def write_containers_conf(path: Path | PurePosixPath) -> None:
    """Write the containers.conf podman needs on these machines (runc, cgroupfs, lowered ulimits), here."""
    local = Path(path)
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(CONTAINERS_CONF)


def env_file_content(spec: ContainerSpec) -> bytes:
    """The secret variables of ``spec`` as podman's ``--env-file`` reads them: ``NAME=value`` lines, verbatim."""
    lines = [f"{k}={v.reveal()}\n" for k, v in sorted(spec.env.items()) if isinstance(v, Secret)]
    return "".join(lines).encode()


def container_labels(spec: ContainerSpec) -> dict[str, str]:
    """The labels a container started from ``spec`` carries: its own, and Harmony's."""
    labels = {**spec.labels, MANAGED_LABEL: "true", RESTART_LABEL: spec.restart}
    if spec.pod is not None:
        labels[POD_LABEL] = spec.pod
    return labels


def run_argv(
    spec: ContainerSpec,
    *,
    env_file: PurePosixPath | None = None,
    cidfile: PurePosixPath | None = None,
    pod_id: str | None = None,
) -> list[str]:
    """The ``podman run`` arguments for ``spec``: a pure function, tested as a table.

    Secret variables come from ``env_file`` (see ``env_file_content``), which a spec with secrets needs;
    podman writes the id of the container it creates to ``cidfile``; ``pod_id`` names ``spec.pod`` by its id.
    """
    if secret_names(spec.env) and env_file is None:
        raise ValueError(f"container {spec.name}: secret variables {secret_names(spec.env)} need an env file")
    argv = ["run", "-d", "--pull=never", *([f"--cidfile={cidfile}"] if cidfile is not None else [])]
    argv += ["--name", spec.name, f"--network={spec.network}" if spec.pod is None else f"--pod={pod_id or spec.pod}"]
    argv += [f"--label={k}={v}" for k, v in sorted(container_labels(spec).items())]
    if env_file is not None:
        argv.append(f"--env-file={env_file}")
    argv += [f"--env={k}={v}" for k, v in sorted(spec.env.items()) if isinstance(v, str)]
    if spec.pod is None:  # else they are the pod's
        argv += _publish(spec.ports)
    for v in spec.volumes:
        argv.append(f"--volume={v.source}:{v.target}" + (":ro" if v.read_only else ""))
    if spec.limits.memory is not None:
        memory = spec.limits.memory
        argv.append(f"--memory={memory // MiB(1)}m" if memory % MiB(1) == 0 else f"--memory={memory}b")
    if spec.limits.cpus is not None:
        argv.append(f"--cpus={spec.limits.cpus}")
    if spec.limits.pids is not None:
        argv.append(f"--pids-limit={spec.limits.pids}")
    if spec.health is not None:
        argv += [
            f"--health-cmd={json.dumps(list(spec.health.command))}",
            "--health-interval=disable",
            f"--health-retries={spec.health.retries}",
        ]
    if spec.init:
        argv.append("--init")
    argv += [spec.image.qualified, *spec.command]
    return argv


def pod_create_argv(pod: str, ports: Sequence[PortMapping]) -> list[str]:
    """The ``podman pod create`` arguments for Harmony's pod ``pod`` publishing ``ports``: it shares its network
    with the containers that join it, nothing else (each keeps its own hostname and IPC)."""
    return ["pod", "create", "--name", pod, "--share=net", f"--label={MANAGED_POD_LABEL}=true", *_publish(ports)]


def _publish(ports: Sequence[PortMapping]) -> list[str]:
    return [f"--publish={p.host_ip}:{'' if p.host is None else p.host}:{p.container}/{p.protocol}" for p in ports]


class _NoSuchPod(PodmanError):
    """``podman run --pod`` found no such pod, or a ``broken`` one (and created nothing): the pod is created (after
    the broken one is removed), and the run tried again."""

    def __init__(self, message: str, *, broken: bool) -> None:
        super().__init__(message)
        self.broken = broken


def _label_filters(labels: Mapping[str, str] | None) -> list[str]:
    """``podman ps`` filters for Harmony's containers having every label of ``labels``."""
    return [f"--filter=label={k}={v}" for k, v in {MANAGED_LABEL: "true", **(labels or {})}.items()]


def _managed(info: ContainerSummary) -> bool:
    return info.labels.get(MANAGED_LABEL) == "true"


# $1: conmon's pid file, $2: the container id. conmon leads its own process group (itself, runc create, hooks).
_KILL_CONMON = r"""
pid=$(cat -- "$1" 2>/dev/null) || exit 0
case "$pid" in ''|*[!0-9]*) exit 0 ;; esac
grep -qF -- "$2" "/proc/$pid/cmdline" 2>/dev/null || exit 0
kill -9 "-$pid" 2>/dev/null || [ ! -d "/proc/$pid" ]
"""


def _parse_container(data: Mapping[str, Any]) -> ContainerInfo:
    state = cast(Mapping[str, Any], data.get("State") or {})
    status = str(state.get("Status", "unknown"))
    config = cast(Mapping[str, Any], data.get("Config") or {})
    ports: list[PublishedPort] = []
    network = cast(Mapping[str, Any], data.get("NetworkSettings") or {})
    published = cast(Mapping[str, Any], network.get("Ports") or {})
    for key, bindings in published.items():
        number, _, proto = key.partition("/")
        for b in cast(list[Mapping[str, str]], bindings or []):
            ports.append(
                PublishedPort(container=int(number), host=int(b["HostPort"]), host_ip=b["HostIp"], protocol=proto)
            )
    return ContainerInfo(
        id=str(data["Id"]),
        name=str(data["Name"]),
        image=str(data.get("ImageName", "")),
        image_id=str(data.get("Image", "")),
        state=cast(ContainerState, status if status in _STATES else "unknown"),
        exit_code=cast(int | None, state.get("ExitCode")),
        labels=cast(Mapping[str, str], config.get("Labels") or {}),
        ports=_in_order(ports),
        restarts=int(data.get("RestartCount", 0)),
        health_retries=_health_retries(config),
    )


def _parse_summary(data: Mapping[str, Any]) -> ContainerSummary:
    """One entry of ``podman ps --format json`` (its fields are not those of ``container inspect``)."""
    status = str(data.get("State", "unknown"))
    ports: list[PublishedPort] = []
    for p in cast(list[Mapping[str, Any]], data.get("Ports") or []):
        for offset in range(int(p.get("range") or 1)):  # a published range is one entry
            ports.append(
                PublishedPort(
                    container=int(p["container_port"]) + offset,
                    host=int(p["host_port"]) + offset,
                    host_ip=str(p.get("host_ip") or ""),
                    protocol=str(p.get("protocol") or "tcp"),
                )
            )
    names = cast(list[str], data.get("Names") or [""])
    return ContainerSummary(
        id=str(data["Id"]),
        name=names[0],
        image=str(data.get("Image", "")),
        image_id=str(data.get("ImageID", "")),
        state=cast(ContainerState, status if status in _STATES else "unknown"),
        exit_code=cast(int | None, data.get("ExitCode")),
        labels=cast(Mapping[str, str], data.get("Labels") or {}),
        ports=_in_order(ports),
    )


def _in_order(ports: list[PublishedPort]) -> tuple[PublishedPort, ...]:
    """One order for a container's ports, whichever podman output listed them."""
    return tuple(sorted(ports, key=lambda p: (p.container, p.protocol, p.host_ip, p.host)))


def _health_retries(config: Mapping[str, Any]) -> int | None:
    check = cast(Mapping[str, Any] | None, config.get("Healthcheck"))
    if not check or not check.get("Test"):
        return None
    return max(1, int(check.get("Retries") or 1))


def _json_list(text: str) -> list[Mapping[str, Any]]:
    text = text.strip()
    if not text:
        return []
    loaded: object = json.loads(text)
    if not isinstance(loaded, list):
        raise PodmanError(f"podman printed JSON that is not a list: {text[:200]}")
    return cast(list[Mapping[str, Any]], loaded)


def _last_error(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip() and "level=warning" not in ln]
    errors = [ln for ln in lines if ln.startswith("Error:")]
    return (errors or lines or [""])[-1].removeprefix("Error: ")
