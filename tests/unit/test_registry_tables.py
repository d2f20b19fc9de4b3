"""The registry's pure parts as tables: references, plans, the daemons' configuration, error translation, the CA."""

from __future__ import annotations

import stat
from ipaddress import IPv4Address
from pathlib import Path, PurePosixPath

import pytest
from cryptography import x509
from pydantic import ValidationError

from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.capabilities.registry import (
    AccountName,
    RegistryAccount,
    RegistrySettings,
    RegistryStatus,
    StoredManifest,
)
from harmony.domain.errors import (
    ImageNotInRegistryError,
    InvalidValueError,
    RegistryAuthError,
    RegistryCertificateError,
    RegistryError,
    RegistryUnreachableError,
)
from harmony.domain.image_refs import ImageDigest, PinnedImage, RepositoryRef, TaggedImage
from harmony.domain.names import ResourceName
from harmony.domain.secret import Secret
from harmony.domain.values import Hostname, Port
from harmony.infra.registry import describe_changes, parse_blob_sizes, parse_manifest_links, registry_config
from harmony.infra.registry_login import registry_error
from harmony.infra.site_ca import SiteCA, certificate_names
from harmony.modules.application import Application, HttpCheck
from harmony.modules.application.exposure import Exposure
from harmony.modules.registry import RegistryGarbageCollection, RegistryImage, SiteRegistry
from harmony.modules.registry.garbage import plan_collection
from harmony.modules.registry.image import plan_push
from harmony.modules.registry.site_registry import plan_registry

D1 = ImageDigest("sha256:" + "1" * 64)
D2 = ImageDigest("sha256:" + "2" * 64)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        (f"10.0.0.5:5000/apps/web@{D1}", True),
        (f"registry.lan/web@{D1}", True),
        (f"localhost/web@{D1}", True),
        (f"[fd00::1]:5000/web@{D1}", True),
        ("10.0.0.5:5000/apps/web:1", False),  # a tag is not a pin
        (f"web@{D1}", False),  # no registry
        (f"10.0.0.5:5000/Apps/web@{D1}", False),  # upper case path
        ("10.0.0.5:5000/apps/web@sha256:abc", False),  # short digest
        (f"10.0.0.5:5000/apps/web:1@{D1}", False),  # tag and digest
    ],
)
def test_pinned_image_accepts_only_a_registry_path_and_a_full_digest(text: str, valid: bool) -> None:
    if valid:
        pinned = PinnedImage(text)
        assert pinned.digest == text.rsplit("@", 1)[1] and pinned.repository == text.rsplit("@", 1)[0]
    else:
        with pytest.raises(InvalidValueError, match="pinned image"):
            PinnedImage(text)


def test_references_convert_between_endpoints_and_forms() -> None:
    tagged = TaggedImage("10.0.0.5:5001/apps/web:7")
    assert (tagged.repository, tagged.tag) == ("10.0.0.5:5001/apps/web", "7")
    pulled = tagged.repository.at("10.0.0.5:5000").pinned(D1)
    assert pulled == f"10.0.0.5:5000/apps/web@{D1}" and pulled.registry == "10.0.0.5:5000"
    with pytest.raises(InvalidValueError):
        RepositoryRef("apps/web")  # "apps" is no registry host
    with pytest.raises(InvalidValueError):
        ImageRef(f"10.0.0.5:5000/apps/web@{D1}")  # a local reference never carries a digest


def _app(image: str) -> Application:
    return Application.model_validate(
        {
            "app": ResourceName("web"),
            "image": image,
            "port": Port(8080),
            "expose": Exposure(hostname=Hostname("web.test"), zone=Hostname("test"), port=Port(8080)),
            "smoke": HttpCheck(path="/"),
        }
    )


def test_an_application_takes_a_pinned_image_or_a_local_one_never_a_registry_tag() -> None:
    assert isinstance(_app(f"10.0.0.5:5000/apps/web@{D1}").image, PinnedImage)
    assert isinstance(_app("localhost/web:1").image, ImageRef)
    with pytest.raises(ValidationError, match="pinned image"):
        _app("10.0.0.5:5000/apps/web:1")
    # the version follows the digest, without looking at any store
    assert _app(f"10.0.0.5:5000/apps/web@{D1}").version(None) != _app(f"10.0.0.5:5000/apps/web@{D2}").version(None)


def settings(**changes: object) -> RegistrySettings:
    base = RegistrySettings(
        address=IPv4Address("127.0.0.1"),
        pull_port=Port(5000),
        push_port=Port(5001),
        storage=PurePosixPath("/srv/registry"),
        pusher=RegistryAccount(user=AccountName("ci"), password=Secret("p")),
        pullers=(RegistryAccount(user=AccountName("dev-a"), password=Secret("q")),),
    )
    return base.model_copy(update=changes)


def test_site_registry_rejects_one_port_for_both_endpoints_and_a_reused_account() -> None:
    with pytest.raises(ValidationError, match="push_port"):
        SiteRegistry(settings=settings(push_port=Port(5000)))
    dup = (RegistryAccount(user=AccountName("ci"), password=Secret("x")),)
    with pytest.raises(ValidationError, match="account names used once"):
        SiteRegistry(settings=settings(pullers=dup))
    dumped = SiteRegistry(settings=settings()).model_dump_json()
    assert '"p"' not in dumped and '"q"' not in dumped and "********" in dumped


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, [("create", "pull 127.0.0.1:5000 (read-only; accounts: ci, dev-a)")]),
        (
            RegistryStatus(settings_applied=False, changed=("password of dev-a changed",), pull_running=True,
                           push_running=True),
            [("update", "password of dev-a changed")],
        ),
        (RegistryStatus(settings_applied=True, pull_running=True, push_running=False),
         [("update", "push endpoint: stopped -> running")]),
        (RegistryStatus(settings_applied=True, pull_running=True, push_running=True), []),
    ],
)  # fmt: skip
def test_registry_plan(status: RegistryStatus | None, expected: list[tuple[str, str]]) -> None:
    changes = plan_registry(SiteRegistry(settings=settings()), status)
    assert [(c.action.value, c.diff.splitlines()[0]) for c in changes] == expected


def test_applied_settings_differences_name_accounts_never_passwords() -> None:
    applied = {"pull": "a:1", "push": "a:2", "hostname": None, "storage": "/s", "pusher": {"ci": "h1"},
               "pullers": {"dev-a": "h2", "dev-b": "h3"}}  # fmt: skip
    wanted = applied | {"pull": "a:3", "pullers": {"dev-a": "h9", "dev-c": "h4"}}
    assert describe_changes(applied, wanted) == [
        "pull a:1 -> a:3",
        "puller dev-c added",
        "puller dev-b removed",
        "password of dev-a changed",
    ]
    assert describe_changes(applied, dict(applied)) == []


def test_the_pull_daemon_is_read_only_and_only_the_push_daemon_deletes() -> None:
    common = {"storage": Path("/s"), "certificate": Path("/c"), "key": Path("/k"), "http_secret": "x"}
    pull = registry_config(role="pull", listen="127.0.0.1:5000", htpasswd=Path("/pull.htpasswd"), **common)  # type: ignore[arg-type]
    push = registry_config(role="push", listen="127.0.0.1:5001", htpasswd=Path("/push.htpasswd"), **common)  # type: ignore[arg-type]
    assert pull["storage"]["maintenance"]["readonly"] == {"enabled": True}  # type: ignore[index]
    assert push["storage"]["maintenance"]["readonly"] == {"enabled": False}  # type: ignore[index]
    assert (pull["storage"]["delete"], push["storage"]["delete"]) == ({"enabled": False}, {"enabled": True})  # type: ignore[index]
    assert pull["auth"] == {"htpasswd": {"realm": "harmony-pull", "path": "/pull.htpasswd"}}
    assert pull["http"]["tls"] == {"certificate": "/c", "key": "/k"}  # type: ignore[index]


@pytest.mark.parametrize(
    ("stderr", "error", "words"),
    [
        ('pinging container registry r:1: Get "https://r:1/v2/": dial tcp r:1: connect: connection refused',
         RegistryUnreachableError, "unreachable"),
        ("x509: certificate signed by unknown authority", RegistryCertificateError, "not signed by the trusted"),
        ("reading manifest sha256:00 in r:1/apps/site: unauthorized: authentication required", RegistryAuthError,
         "refused this host's account"),
        ("uploading manifest 2 to r:1/apps/site: StatusCode: 405, Method not allowed", RegistryAuthError,
         "read-only pull endpoint"),
        ("reading manifest sha256:00 in r:1/apps/site: manifest unknown: manifest unknown", ImageNotInRegistryError,
         "has no such image"),
        ("something else entirely", RegistryError, "something else entirely"),
    ],
)  # fmt: skip
def test_client_errors_are_translated_to_the_most_specific_registry_error(
    stderr: str, error: type[RegistryError], words: str
) -> None:
    translated = registry_error("r:1", "pull of x", f"time=... level=warning msg=noise\nError: {stderr}\n")
    assert type(translated) is error
    assert words in str(translated) and translated.endpoint == "r:1"


def test_collection_plans_one_delete_per_untagged_manifest_not_kept() -> None:
    manifests = [
        StoredManifest(repository="apps/site", digest=D1),
        StoredManifest(repository="apps/site", digest=D2),
        StoredManifest(repository="apps/site", digest=ImageDigest("sha256:" + "3" * 64), tags=("1",)),
    ]
    keep = (PinnedImage(f"10.0.0.5:5000/apps/site@{D2}"),)
    assert [c.target for c in plan_collection(keep, manifests)] == [f"image apps/site@{D1}"]
    assert plan_collection((), manifests[2:]) == []
    assert RegistryGarbageCollection(keep=keep).keep == keep


def test_a_registry_image_plans_by_the_content_label_the_registry_holds() -> None:
    image = RegistryImage(
        destination=TaggedImage("10.0.0.5:5001/apps/site:1"),
        containerfile="FROM localhost/busybox:base\nCOPY www /www\n",
        files={"www/index.html": "hi\n"},
    )
    assert [c.action.value for c in plan_push(image, None)] == ["create"]
    assert [c.action.value for c in plan_push(image, (D1, {"io.harmony.content": "old"}))] == ["update"]
    assert plan_push(image, (D1, {"io.harmony.content": image.content})) == []
    with pytest.raises(ValidationError, match="first instruction is FROM"):
        RegistryImage(destination=image.destination, containerfile="COPY x /x\n")
    with pytest.raises(ValidationError, match="relative path inside the build context"):
        RegistryImage(destination=image.destination, containerfile="FROM a\n", files={"../etc/passwd": "x"})


def test_the_site_ca_keeps_its_key_private_and_signs_server_certificates(tmp_path: Path) -> None:
    ca = SiteCA(tmp_path / "ca")
    ca.ensure()
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca.directory.stat().st_mode) == 0o700
    first = ca.certificate_pem()
    ca.ensure()
    assert ca.certificate_pem() == first  # kept, not recreated
    issued = ca.issue_server("registry.lan", addresses=(IPv4Address("10.0.0.5"),), names=("registry.lan",))
    server = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(first.encode()))
    assert certificate_names(issued.certificate_pem)[0] == ("10.0.0.5", "registry.lan")
    ca.key_path.chmod(0o644)
    with pytest.raises(Exception, match="must be 0600"):
        ca.ensure()


def test_the_registry_claims_both_endpoints_so_a_clash_is_found_before_anything_runs() -> None:
    claims = SiteRegistry(settings=settings()).claims()
    assert [(c.endpoint, c.field) for c in claims] == [  # type: ignore[union-attr]
        ("tcp/127.0.0.1:5000", "settings.pull_port"),
        ("tcp/127.0.0.1:5001", "settings.push_port"),
    ]


def test_storage_listings_from_the_registry_host_parse_into_manifests_and_blob_sizes() -> None:
    h1, h2 = D1.removeprefix("sha256:"), D2.removeprefix("sha256:")
    links = "\n".join(
        [
            f"apps/site/_manifests/revisions/sha256/{h1}/link\t{D1}",
            f"apps/site/_manifests/revisions/sha256/{h2}/link\t{D2}",
            f"apps/site/_manifests/tags/live/current/link\t{D2}",
            f"apps/site/_manifests/tags/2/current/link\t{D2}",
        ]
    )
    assert parse_manifest_links(links) == [
        StoredManifest(repository="apps/site", digest=D1),
        StoredManifest(repository="apps/site", digest=D2, tags=("2", "live")),
    ]
    assert parse_manifest_links("") == []
    sizes = f"120 /srv/r/docker/registry/v2/blobs/sha256/11/{h1}\n9 /srv/r/docker/registry/v2/blobs/sha256/22/{h2}\n"
    assert parse_blob_sizes(sizes) == {h1: 120, h2: 9}
