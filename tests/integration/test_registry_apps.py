"""Applications from the site registry on a host, and garbage collection, for real.

An ``Application`` pinned to a digest: pulled with the host's own read-only login, the plan shows the digest
change as the change, the previous version's image is kept until the new one serves, older ones are pruned
past ``keep_images``; with the registry down a new digest fails with "image pull failed" and the old version
keeps serving. Garbage collection frees the blobs of images no tag names and keeps every desired digest.
"""

from __future__ import annotations

import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from harmony.domain.errors import ImageNotInRegistryError
from harmony.domain.image_refs import PinnedImage
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, HttpCheck
from harmony.modules.application.application import APP_LABEL
from harmony.modules.application.exposure import Exposure
from harmony.modules.registry import RegistryGarbageCollection
from harmony.topology.container_host import ContainerHost
from tests.fixtures.podman import wipe
from tests.fixtures.ports import free_port
from tests.fixtures.registry import Site, bytes_freed, publish, site_image


def site_app(image: PinnedImage, lb_port: int) -> Application:
    return Application(
        app=ResourceName("site"),
        image=image,
        port=Port(8080),
        command=("httpd", "-f", "-p", "8080", "-h", "/www"),
        expose=Exposure(hostname=Hostname("site.reg.test"), zone=Hostname("reg.test"), port=Port(lb_port)),
        smoke=HttpCheck(path="/index.html", expect_body="site", timeout=timedelta(seconds=10)),
        stop_grace=timedelta(milliseconds=500),
    )


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
        return r.read().decode()


async def test_an_application_runs_pinned_images_from_the_registry_and_keeps_the_previous_one(
    site_registry: Site, build_host: ContainerHost, tmp_path: Path
) -> None:
    site = site_registry
    versions = [await publish(site, build_host, site_image(site, tmp_path, body=f"site v{n}\n")) for n in (1, 2, 3, 4)]
    host = ContainerHost.isolated(
        tmp_path / "host", dns_port=free_port(), name="app-host", registry_logins=[site.pull_login()]
    )
    await host.ensure_ready()
    lb = free_port()
    try:
        app = site_app(versions[0], lb)
        outcome = await app.interpret().apply(host, await app.interpret().plan(host))
        assert outcome.ok, outcome
        assert get(lb) == "site v1\n"
        assert await app.interpret().plan(host) == []

        # The plan names the digest change.
        v2 = site_app(versions[1], lb)
        changes = await v2.interpret().plan(host)
        assert f"image {versions[0]} -> {versions[1]}" in changes[0].diff
        assert (await v2.interpret().apply(host, changes)).ok
        assert get(lb) == "site v2\n"
        kept = [d for d, _ in await host.local_image_digests(versions[0].repository)]
        assert sorted(kept) == sorted([versions[0].digest, versions[1].digest])  # the previous one stays

        v3 = site_app(versions[2], lb)
        outcome = await v3.interpret().apply(host, await v3.interpret().plan(host))
        assert outcome.ok, outcome
        assert f"removed old image {versions[0]}" in outcome.details
        kept = [d for d, _ in await host.local_image_digests(versions[0].repository)]
        assert sorted(kept) == sorted([versions[1].digest, versions[2].digest])

        # Registry down: the new digest cannot be pulled; nothing changes, v3 keeps serving.
        await site.host.stop_registry()
        before = sorted(c.name for c in await host.list_containers({APP_LABEL: "site"}))
        v4 = site_app(versions[3], lb)
        failed = await v4.interpret().apply(host, await v4.interpret().plan(host))
        assert not failed.ok
        assert "image pull failed" in failed.message and "is unreachable" in failed.message
        assert "the previous version keeps serving" in failed.message
        assert get(lb) == "site v3\n"
        assert sorted(c.name for c in await host.list_containers({APP_LABEL: "site"})) == before
    finally:
        await host.stop_services()
        wipe(host.podman)


async def test_garbage_collection_frees_untagged_images_and_keeps_every_desired_digest(
    site_registry: Site, build_host: ContainerHost, tmp_path: Path
) -> None:
    site = site_registry
    # Three versions pushed to the same tag: v1 and v2 lose the tag; a device still runs v2.
    v1, v2, v3 = [
        await publish(site, build_host, site_image(site, tmp_path, body="x" * 20000 + f"v{n}\n")) for n in (1, 2, 3)
    ]
    # Another repository's tagged image is never touched.
    other = await publish(site, build_host, site_image(site, tmp_path, body="other\n", path="apps/other"))
    manifests = {m.digest: m.tags for m in await site.host.stored_manifests()}
    assert manifests == {v1.digest: (), v2.digest: (), v3.digest: ("1",), other.digest: ("1",)}

    gc = RegistryGarbageCollection(keep=(v2,))
    (change,) = await gc.interpret().plan(site.host)
    assert change.action == "delete" and v1.digest in change.target
    outcome = await gc.interpret().apply(site.host, [change])
    assert outcome.ok, outcome
    assert f"deleted apps/site@{v1.digest}" in outcome.details
    assert {m.digest for m in await site.host.stored_manifests()} == {v2.digest, v3.digest, other.digest}
    assert "deleted 1 manifest(s)" in outcome.message and bytes_freed(outcome.message) > 0, outcome
    assert await gc.interpret().plan(site.host) == []  # converged

    # Every kept digest still pulls (the push endpoint came back after collection); the deleted one does not.
    device = ContainerHost.isolated(
        tmp_path / "device", dns_port=free_port(), name="device", registry_logins=[site.pull_login()]
    )
    await device.ensure_ready()
    try:
        for image in (v2, v3, other):
            assert await device.pull_image(image)
        with pytest.raises(ImageNotInRegistryError):
            await device.pull_image(v1)
    finally:
        wipe(device.podman)
    status = await site.host.registry_status(site.settings)
    assert status is not None and status.push_running and status.pull_running
