"""Every Score kind round-trips through JSON as a member of one discriminated union."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path, PurePosixPath
from typing import Literal

import pytest
from pydantic import ValidationError

import harmony.modules
from harmony import DeploymentError, Interpret, ManagedFiles, Score
from harmony.domain.capabilities.alerting import AlertRouting, Route, WebhookReceiver
from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.capabilities.metrics import ScrapeJob, ScrapeTarget, Severity
from harmony.domain.capabilities.registry import AccountName, RegistryAccount, RegistrySettings
from harmony.domain.capabilities.services import ServiceSpec
from harmony.domain.image_refs import PinnedImage, TaggedImage
from harmony.domain.names import ResourceName
from harmony.domain.score import AnyScore, kind_of, score_adapter, score_kinds
from harmony.domain.secret import MASK, Secret
from harmony.domain.units import FileMode
from harmony.domain.values import Hostname, Port
from harmony.modules.agent.binary import AgentBinary
from harmony.modules.agent.credentials import AgentCredentials
from harmony.modules.agent.removed import AgentRemoved
from harmony.modules.agent.service import AgentService
from harmony.modules.application import Application, BusyboxImage, Container, Exposure, HttpCheck
from harmony.modules.commands import Command
from harmony.modules.files import ManagedDirectory, ManagedFile, Symlink, UploadedFile
from harmony.modules.monitoring import AlertRoutes, Scrape, default_alert_pack
from harmony.modules.packages import DebianPackage
from harmony.modules.registry import RegistryGarbageCollection, RegistryImage, SiteRegistry
from harmony.modules.users import Group, User

for info in pkgutil.walk_packages(harmony.modules.__path__, "harmony.modules."):
    importlib.import_module(info.name)

EXAMPLES: dict[str, AnyScore] = {
    "managed_file": ManagedFile(path=PurePosixPath("/etc/motd"), content="hi\n", mode=FileMode("0640"), owner="root"),
    "managed_directory": ManagedDirectory(path=PurePosixPath("/srv/app"), mode=FileMode("0755")),
    "symlink": Symlink(path=PurePosixPath("/srv/current"), target="/srv/app"),
    "uploaded_file": UploadedFile(source=Path("logo.png"), path=PurePosixPath("/srv/logo.png"), mode=FileMode("0644")),
    "user": User(user="deploy", groups=("web",), shell="/bin/sh"),
    "agent_binary": AgentBinary(source=Path("harmony-agent"), sha256="0" * 64),
    "agent_credentials": AgentCredentials(
        path=PurePosixPath("/var/lib/harmony/agent/credentials.json"),
        device="dev-a",
        user="device-dev-a",
        password=Secret(MASK),
        servers=("nats://10.0.0.1:4222",),
    ),
    "agent_service": AgentService(
        agent="dev-a", service=ServiceSpec(name="harmony-agent", argv=("/var/lib/harmony/agent/harmony-agent",))
    ),
    "agent_removed": AgentRemoved(
        agent="dev-a",
        service=ServiceSpec(name="harmony-agent", argv=("/var/lib/harmony/agent/harmony-agent",)),
        files=(PurePosixPath("/var/lib/harmony/agent/harmony-agent"),),
    ),
    "group": Group(group="web", gid=2000),
    "debian_package": DebianPackage(package="curl", version="7.88.1-10"),
    "command": Command(argv=("make", "install"), creates=PurePosixPath("/usr/local/bin/app"), unless=("true",)),
    "busybox_image": BusyboxImage(ref=ImageRef("localhost/web:1"), files={"www/index.html": "hi"}),
    "container": Container(spec=ContainerSpec(name=ContainerName("worker"), image=ImageRef("worker:1"))),
    "application": Application(
        app=ResourceName("web"),
        image=BusyboxImage(ref=ImageRef("localhost/web:1"), files={"www/index.html": "hi"}),
        port=Port(8080),
        expose=Exposure(hostname=Hostname("web.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
        smoke=HttpCheck(expect_body="hi"),
    ),
    "registry_image": RegistryImage(
        destination=TaggedImage("10.0.0.5:5001/apps/web:1"),
        containerfile="FROM localhost/busybox:base\nCOPY www /www\n",
        files={"www/index.html": "hi"},
    ),
    "registry_garbage_collection": RegistryGarbageCollection(
        keep=(PinnedImage(f"10.0.0.5:5000/apps/web@sha256:{'a' * 64}"),)
    ),
    # Passwords go on the wire masked (a Secret dumps as its mask), so the example's are the mask itself.
    "site_registry": SiteRegistry(
        settings=RegistrySettings(
            address=IPv4Address("10.0.0.5"),
            pull_port=Port(5000),
            push_port=Port(5001),
            storage=PurePosixPath("/srv/registry"),
            pusher=RegistryAccount(user=AccountName("ci"), password=Secret(MASK)),
            pullers=(RegistryAccount(user=AccountName("dev-a"), password=Secret(MASK)),),
        )
    ),
    "alert_routes": AlertRoutes(
        routing=AlertRouting(
            receivers=(
                WebhookReceiver(name=ResourceName("ops"), url="http://10.0.0.9/hook", bearer_token=Secret(MASK)),
            ),
            default_receiver=ResourceName("ops"),
            routes=(Route(receiver=ResourceName("ops"), severity=Severity.CRITICAL, group_wait=timedelta(seconds=5)),),
        )
    ),
    "alert_rules": default_alert_pack(),
    "scrape": Scrape(
        job=ScrapeJob(
            name=ResourceName("node"),
            targets=(ScrapeTarget(host=IPv4Address("10.0.0.5"), port=Port(9100), labels={"site": "a"}),),
            interval=timedelta(seconds=30),
        )
    ),
    "dns_zone": score_kinds()["dns_zone"].model_validate(
        {"zone": "office.lan", "records": [{"type": "A", "name": "web.office.lan", "address": "10.0.0.5"}]}
    ),
    "dhcp_scope": score_kinds()["dhcp_scope"].model_validate(
        {
            "subnet": {
                "network": "10.0.0.0/24",
                "pools": [{"start": "10.0.0.100", "end": "10.0.0.199"}],
                "reservations": [{"mac": "52:54:00:00:00:07", "address": "10.0.0.7"}],
                "boot": {"next_server": "10.0.0.1"},
            }
        }
    ),
    "boot_scripts": score_kinds()["boot_scripts"].model_validate({"scripts": [{"content": "#!ipxe\n"}]}),
    "network_discovery": score_kinds()["network_discovery"].model_validate(
        {"endpoint": {"address": "10.77.0.1", "port": 8070}, "poll_seconds": 3}
    ),
    "machine_roles": score_kinds()["machine_roles"].model_validate(
        {
            "endpoint": {"address": "10.77.0.1", "port": 8070},
            "assignments": [
                {
                    "mac": "52:54:00:19:01:01",
                    "hostname": "web-1",
                    "role": {"name": "web", "min_disk_bytes": 2147483648},
                    "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0bVn1o0v0PmxQ2zK3P5wGdXJtq2m0Sx3xq6Qe7vS",
                    "address": "10.77.0.50",
                }
            ],
        }
    ),
    "load_balancing": score_kinds()["load_balancing"].model_validate(
        {"frontends": [{"name": "web", "port": 80, "backends": [{"name": "a", "address": "10.0.0.5", "port": 8080}]}]}
    ),
    "firewall_rules": score_kinds()["firewall_rules"].model_validate(
        {
            "policy": {
                "zones": [{"name": "lan", "interfaces": ["eth1"]}],
                "rules": [
                    {
                        "action": "allow",
                        "source": {"name": "lan", "interfaces": ["eth1"]},
                        "destination": {"name": "local"},
                        "protocol": "tcp",
                        "ports": [22],
                    }
                ],
            },
            "must_reach": [{"address": "10.0.0.1", "port": 22}],
        }
    ),
}


def example_of(kind: str) -> AnyScore:
    """An example instance for a kind: hand-written above, or built from field defaults."""
    if kind in EXAMPLES:
        return EXAMPLES[kind]
    cls = score_kinds()[kind]
    try:
        return cls.model_validate({})
    except ValidationError:
        pytest.fail(f"add an example instance of Score kind {kind!r} ({cls.__module__}) to EXAMPLES")


SHIPPED = sorted(k for k, c in score_kinds().items() if c.__module__.startswith("harmony."))


def test_every_shipped_module_registers_its_kinds() -> None:
    assert {"managed_file", "managed_directory"} <= set(SHIPPED)


@pytest.mark.parametrize("kind", SHIPPED)
def test_round_trip_through_the_union(kind: str) -> None:
    score = example_of(kind)
    adapter = score_adapter()
    text = adapter.dump_json(score)
    again = adapter.validate_json(text)
    assert type(again) is type(score)
    assert again == score
    assert kind_of(again) == kind


def test_an_application_pinned_to_a_digest_round_trips_with_its_digest() -> None:
    app = Application(
        app=ResourceName("web"),
        image=PinnedImage(f"10.0.0.5:5000/apps/web@sha256:{'a' * 64}"),
        port=Port(8080),
        expose=Exposure(hostname=Hostname("web.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
        smoke=HttpCheck(expect_body="hi"),
    )
    again = score_adapter().validate_json(score_adapter().dump_json(app))
    assert again == app and isinstance(again, Application) and isinstance(again.image, PinnedImage)


def test_an_unknown_kind_is_rejected_listing_the_known_ones() -> None:
    with pytest.raises(ValidationError) as e:
        score_adapter().validate_json('{"kind": "no_such_thing"}')
    assert "managed_file" in str(e.value)


def test_a_bad_field_on_the_wire_names_kind_and_field() -> None:
    with pytest.raises(ValidationError) as e:
        score_adapter().validate_json('{"kind": "managed_file", "path": "/etc/x", "mode": 99999}')
    assert e.value.errors()[0]["loc"][:2] == ("managed_file", "mode")


def test_two_classes_cannot_claim_one_kind() -> None:
    with pytest.raises(DeploymentError, match=r"already used by harmony\.modules\.files\.managed_file\.ManagedFile"):

        class Impostor(Score[ManagedFiles]):
            kind: Literal["managed_file"] = "managed_file"

            def interpret(self) -> Interpret[ManagedFiles]:
                raise NotImplementedError


def test_a_concrete_score_must_declare_its_kind() -> None:
    with pytest.raises(DeploymentError, match='kind: Literal\\["name"\\]'):

        class Kindless(Score[ManagedFiles]):
            path: str = ""

            def interpret(self) -> Interpret[ManagedFiles]:
                raise NotImplementedError


def test_scores_are_frozen() -> None:
    score = ManagedFile(path=PurePosixPath("/etc/motd"))
    with pytest.raises(ValidationError):
        score.content = "changed"  # type: ignore[misc]  # mutation is what this test checks is refused
