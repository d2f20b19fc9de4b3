"""The site registry for real: two docker-registry daemons over TLS on loopback, podman and skopeo as clients.

Covers: the registry Score (apply, NOOP, a changed password planned without showing it, a stopped endpoint
planned back), an image built offline and pushed, pulled by digest into another isolated store, read-only
pull accounts, and each failure a pull can meet (wrong password, untrusted certificate, unknown digest,
registry down) as its own error with nothing left in the store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import tempfile
from pathlib import Path

import pytest

from harmony.domain.capabilities.registry import RegistryAccount, RegistryLogin
from harmony.domain.errors import (
    ImageNotInRegistryError,
    RegistryAuthError,
    RegistryCertificateError,
    RegistryUnreachableError,
)
from harmony.domain.image_refs import PinnedImage, TaggedImage
from harmony.domain.secret import Secret
from harmony.infra.daemon import poll_until
from harmony.infra.registry import answers_tls
from harmony.infra.site_ca import SiteCA
from harmony.modules.application.image import CONTENT_LABEL
from harmony.modules.registry import SiteRegistry
from harmony.topology.container_host import ContainerHost
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port
from tests.fixtures.registry import PULLERS, Site, publish, site_image


async def registry_pid(site: Site, role: str) -> int | None:
    pid_file = site.host.registry.state_dir / f"{role}.pid"
    return (await site.host.registry.connector.read_pids([pid_file]))[pid_file]


async def test_the_registry_serves_over_tls_from_the_site_ca_and_a_second_apply_is_a_noop(site_registry: Site) -> None:
    site = site_registry
    ca_key = site.host.registry.ca.key_path
    assert ca_key.stat().st_mode & 0o777 == 0o600
    context = ssl.create_default_context(cafile=str(site.host.registry.ca.certificate_path))
    for endpoint in (site.settings.pull_endpoint, site.settings.push_endpoint):
        assert await answers_tls(endpoint, context)
    stranger = ssl.create_default_context()  # the system's CAs do not vouch for the site's registry
    assert not await answers_tls(site.settings.pull_endpoint, stranger)

    score = SiteRegistry(settings=site.settings)
    assert await score.interpret().plan(site.host) == []

    # A new password for one pull account: planned by name, never shown.
    changed = site.settings.model_copy(
        update={"pullers": (RegistryAccount(user=PULLERS[0].user, password=Secret("rotated")), *PULLERS[1:])}
    )
    (change,) = await SiteRegistry(settings=changed).interpret().plan(site.host)
    assert change.diff == "password of dev-a changed\n" and "rotated" not in change.diff

    # A crashed push daemon is planned back to running; the apply starts it and leaves the pull daemon alone.
    pull_pid = await registry_pid(site, "pull")
    push_pid = await registry_pid(site, "push")
    assert pull_pid is not None and push_pid is not None
    os.kill(push_pid, signal.SIGKILL)

    async def push_gone() -> bool:
        return await registry_pid(site, "push") is None

    assert await poll_until(push_gone, timeout=10)
    (crashed,) = await score.interpret().plan(site.host)
    assert crashed.diff == "push endpoint: stopped -> running\n"
    assert (await score.interpret().apply(site.host, [crashed])).ok
    assert await registry_pid(site, "pull") == pull_pid
    assert await answers_tls(site.settings.push_endpoint, context)

    # Both stopped: both planned back to running, and the apply brings them back.
    await site.host.registry.stop_registry()
    (down,) = await score.interpret().plan(site.host)
    assert "pull endpoint: stopped -> running" in down.diff and "push endpoint: stopped -> running" in down.diff
    assert (await score.interpret().apply(site.host, [down])).ok
    assert await score.interpret().plan(site.host) == []


async def test_an_image_built_offline_is_pushed_and_pulled_by_digest_into_another_store(
    site_registry: Site, build_host: ContainerHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = site_registry
    image = site_image(site, tmp_path, body="registry v1\n")
    (create,) = await image.interpret().plan(build_host)
    assert create.action == "create"
    pinned = await publish(site, build_host, image)
    assert await image.interpret().plan(build_host) == []  # the registry holds this content under the tag

    device = ContainerHost.isolated(
        tmp_path / "device", dns_port=free_port(), name="device", registry_logins=[site.pull_login()]
    )
    await device.ensure_ready()
    try:
        assert await device.inspect_image(pinned) is None
        logins = set(Path(tempfile.gettempdir()).glob("harmony-login-*"))
        pulled_id = await device.pull_image(pinned)
        pulled = await device.inspect_image(pinned)
        assert pulled is not None and pulled.id == pulled_id and pulled.labels[CONTENT_LABEL] == image.content
        assert set(Path(tempfile.gettempdir()).glob("harmony-login-*")) == logins, "the password left no file"
        assert [d for d, _ in await device.local_image_digests(pinned.repository)] == [pinned.digest]
        # A changed file plans a new build and push; the new digest differs, the old one still pulls.
        changed = site_image(site, tmp_path, body="registry v2\n")
        (update,) = await changed.interpret().plan(build_host)
        assert update.action == "update" and image.content in update.diff
        newer = await publish(site, build_host, changed)
        assert newer.digest != pinned.digest
        # Two pulls of it at once (an agent's, started while it plans, and its apply's) share one podman pull.
        fetched: list[PinnedImage] = []
        fetch = device.podman.fetch_image

        async def counted(image: PinnedImage, login: RegistryLogin) -> str:
            fetched.append(image)
            return await fetch(image, login)

        monkeypatch.setattr(device.podman, "fetch_image", counted)  # counts the real pulls
        first, second = await asyncio.gather(device.pull_image(newer), device.pull_image(newer))
        assert fetched == [newer] and first == second
        stored = await device.inspect_image(newer)
        assert stored is not None and stored.id == first and stored.labels[CONTENT_LABEL] == changed.content
        assert await device.pull_image(newer) == first and fetched == [newer]  # since then: a look, no pull
    finally:
        wipe(device.podman)


async def test_pull_accounts_are_read_only(site_registry: Site, build_host: ContainerHost, tmp_path: Path) -> None:
    site = site_registry
    await publish(site, build_host, site_image(site, tmp_path, body="v1\n"))
    local = site_image(site, tmp_path, body="v1\n").local_ref
    puller_on_push = site.pull_login().model_copy(update={"endpoint": site.settings.push_endpoint})
    with pytest.raises(RegistryAuthError, match="refused this host's account"):
        await build_host.podman.push_image(local, site.push_ref("apps/site", "2"), puller_on_push)
    on_pull_endpoint = site.push_ref("apps/site", "3").replace(site.settings.push_endpoint, site.settings.pull_endpoint)
    with pytest.raises(RegistryAuthError, match="read-only pull endpoint"):
        await build_host.podman.push_image(local, TaggedImage(on_pull_endpoint), site.pull_login())
    # Even the push account cannot write through the pull endpoint.
    pusher_on_pull = site.push_login().model_copy(update={"endpoint": site.settings.pull_endpoint})
    with pytest.raises(RegistryAuthError, match="read-only pull endpoint"):
        await build_host.podman.push_image(local, TaggedImage(on_pull_endpoint), pusher_on_pull)
    assert [m.tags for m in await site.host.stored_manifests()] == [("1",)]


async def test_each_pull_failure_is_its_own_clear_error_and_leaves_nothing(
    site_registry: Site, build_host: ContainerHost, tmp_path: Path
) -> None:
    site = site_registry
    pinned = await publish(site, build_host, site_image(site, tmp_path, body="v1\n"))
    other_ca = SiteCA(tmp_path / "another-site-ca").certificate_pem()
    unknown = site.pinned("apps/site", pinned.digest.replace(pinned.digest[-8:], "00000000"))  # type: ignore[arg-type]

    def device_with(login: RegistryLogin, store: Path | None = None) -> ContainerHost:
        return ContainerHost.isolated(
            store or tmp_path / f"device-{free_port()}", dns_port=free_port(), name="device", registry_logins=[login]
        )

    cases: list[tuple[RegistryLogin, object, type[Exception], str]] = [
        (site.pull_login().model_copy(update={"password": Secret("wrong")}), pinned, RegistryAuthError, "refused"),
        (site.pull_login().model_copy(update={"ca_certificate": other_ca}), pinned, RegistryCertificateError,
         "not signed by the trusted site CA"),
        (site.pull_login(), unknown, ImageNotInRegistryError, "has no such image"),
    ]  # fmt: skip
    for login, image, error, words in cases:
        device = device_with(login)
        await device.ensure_ready()
        try:
            for likely_new in (False, True):  # looked for first, or asked of the registry first: the same error
                with pytest.raises(error, match=words) as raised:
                    await device.pull_image(image, likely_new=likely_new)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
                assert "wrong" not in str(raised.value)  # the password never appears
            assert await device.list_images() == []
        finally:
            wipe(device.podman)

    # No login for that registry at all: said before anything is tried.
    stranger = ContainerHost.isolated(tmp_path / "stranger", dns_port=free_port(), name="stranger")
    with pytest.raises(RegistryAuthError, match=r"has no login for registry .* \(it has: none\)"):
        await stranger.pull_image(pinned)

    had = device_with(site.pull_login(), store=tmp_path / "device-had")
    await had.ensure_ready()
    stored = await had.pull_image(pinned)
    await site.host.stop_registry()
    device = device_with(site.pull_login())
    await device.ensure_ready()
    try:
        for likely_new in (False, True):
            with pytest.raises(RegistryUnreachableError, match="is unreachable"):
                await device.pull_image(pinned, likely_new=likely_new)
        assert await device.list_images() == []
        # A store that has it, seen by a new host object (an agent restarted): the registry, asked first, is
        # down; the look after that finds the image, so nothing fails.
        restarted = device_with(site.pull_login(), store=tmp_path / "device-had")
        assert await restarted.pull_image(pinned, likely_new=True) == stored
    finally:
        wipe(device.podman)
        wipe(had.podman)


async def test_a_second_puller_logs_in_with_its_own_account(
    site_registry: Site, build_host: ContainerHost, tmp_path: Path
) -> None:
    site = site_registry
    pinned = await publish(site, build_host, site_image(site, tmp_path, body="v1\n"))
    device = ContainerHost.isolated(
        tmp_path / "dev-b", dns_port=free_port(), name="dev-b", registry_logins=[site.pull_login(PULLERS[1])]
    )
    await device.ensure_ready()
    try:
        assert await device.pull_image(pinned)
    finally:
        wipe(device.podman)
