"""Every route names a declared receiver."""

from __future__ import annotations

from harmony.domain.capabilities.alerting import AlertRouting, PushReceiver, Route, WebhookReceiver
from harmony.domain.capabilities.metrics import Severity
from harmony.domain.names import ResourceName

routing = AlertRouting(
    receivers=(
        WebhookReceiver(name=ResourceName("ops"), url="http://10.0.0.9/hook"),
        PushReceiver(name=ResourceName("pager"), url="https://ntfy.example/site"),
    ),
    default_receiver=ResourceName("ops"),
    routes=(Route(receiver=ResourceName("pager"), severity=Severity.CRITICAL),),
)
