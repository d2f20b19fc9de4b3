# fails: type check
"""Alert rules and routing for a topology that runs no metrics collector or alert router (an edge router)."""

from __future__ import annotations

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.alerting import AlertRouting, WebhookReceiver
from harmony.domain.names import ResourceName
from harmony.modules.monitoring import AlertRoutes, default_alert_pack
from harmony.topology.edge_router import EdgeRouter

edge = EdgeRouter(name="edge", state_dir=Path("/srv/edge"))
routes = AlertRoutes(
    routing=AlertRouting(
        receivers=(WebhookReceiver(name=ResourceName("ops"), url="http://10.0.0.9/hook"),),
        default_receiver=ResourceName("ops"),
    )
)
deployment = Deployment(topology=edge, scores=[default_alert_pack(), routes])  # expect-error
