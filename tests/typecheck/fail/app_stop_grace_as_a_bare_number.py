# fails: type check
"""How long old versions may finish their requests, as a bare 30 (seconds? milliseconds?)."""

from harmony.domain.capabilities.containers import ImageRef
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, Port
from harmony.modules.application import Application, Exposure, HttpCheck

shop = Application(
    app=ResourceName("shop"),
    image=ImageRef("localhost/shop:3"),
    port=Port(8080),
    expose=Exposure(hostname=Hostname("shop.apps.lan"), zone=Hostname("apps.lan"), port=Port(80)),
    smoke=HttpCheck(path="/"),
    stop_grace=30,  # expect-error
)
