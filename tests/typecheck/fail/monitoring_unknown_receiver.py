# fails: load
"""A route to a receiver that is not declared."""

from __future__ import annotations

from harmony.domain.capabilities.alerting import AlertRouting, Route, WebhookReceiver
from harmony.domain.names import ResourceName

routing = AlertRouting(  # expect-load-error: routes[0].receiver
    receivers=(WebhookReceiver(name=ResourceName("ops"), url="http://10.0.0.9/hook"),),
    default_receiver=ResourceName("ops"),
    routes=(Route(receiver=ResourceName("pager")),),
)
