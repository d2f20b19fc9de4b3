# fails: type check
"""An application given a registry tag to run: hosts run only a pinned digest (or a local image)."""

from __future__ import annotations

from harmony.domain.image_refs import TaggedImage
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, HttpCheck
from harmony.modules.application.exposure import Exposure

app = Application(
    app=ResourceName("web"),
    image=TaggedImage("10.0.0.5:5001/apps/web:1"),  # expect-error
    port=Port(8080),
    expose=Exposure(hostname=Hostname("web.test"), zone=Hostname("test"), port=Port(8080)),
    smoke=HttpCheck(path="/"),
)
