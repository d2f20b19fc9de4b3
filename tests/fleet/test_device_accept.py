"""What a device agent accepts from its desired state, as a table: the Score it will run, or why not."""

from __future__ import annotations

import pytest

from harmony.domain.capabilities.containers import ContainerName, ContainerSpec, ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.score import score_adapter
from harmony.domain.values import Hostname, Port
from harmony.fleet.device_agent import Rejected, accept
from harmony.modules.application import Application, BusyboxImage, Container, HttpCheck
from harmony.modules.application.exposure import Exposure

CONTAINER = Container(spec=ContainerSpec(name=ContainerName("web"), image=ImageRef("localhost/web:1")))
EXPOSE = Exposure(hostname=Hostname("site.fleet.test"), zone=Hostname("fleet.test"), port=Port(8088))
APP = Application(
    app=ResourceName("site"), image=ImageRef("localhost/site:1"), port=Port(8080), expose=EXPOSE, smoke=HttpCheck()
)
IMAGE_SCORE = BusyboxImage(ref=ImageRef("localhost/site:1"), files={"a": "b"})
BUILT = APP.model_copy(update={"image": IMAGE_SCORE})


def wire(score: Container | Application | BusyboxImage) -> bytes:
    return score_adapter().dump_json(score)


@pytest.mark.parametrize("applications", [False, True])
def test_a_container_runs_on_every_device(applications: bool) -> None:
    assert accept(wire(CONTAINER), applications=applications) == CONTAINER


def test_an_application_runs_on_a_device_with_a_load_balancer_and_dns() -> None:
    assert accept(wire(APP), applications=True) == APP


@pytest.mark.parametrize(
    ("raw", "applications", "reason"),
    [
        (wire(APP), False, "kind 'application' needs a load balancer and DNS, which this device's topology lacks"),
        (wire(BUILT), True, "image is a BusyboxImage Score, which a device does not build"),
        (wire(IMAGE_SCORE), True, "cannot run on a device; this device runs: container, application"),
        (b'{"kind": "no-such-kind"}', True, "not a valid Score"),
        (b"not json", False, "not a valid Score"),
    ],
)
def test_what_a_device_rejects_says_why(raw: bytes, applications: bool, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        accept(raw, applications=applications)
