"""Alert rules and routing on the topology that runs a metrics collector and an alert router."""

from __future__ import annotations

from pathlib import Path

from harmony import Deployment
from harmony.domain.capabilities.alerting import AlertRouting, WebhookReceiver
from harmony.domain.names import ResourceName
from harmony.modules.monitoring import AlertRoutes, MetricsServer, default_alert_pack
from harmony.topology.monitoring_host import MonitoringHost

site = MonitoringHost(name="monitoring", state_dir=Path("/srv/monitoring"))
routes = AlertRoutes(
    routing=AlertRouting(
        receivers=(WebhookReceiver(name=ResourceName("ops"), url="http://10.0.0.9/hook"),),
        default_receiver=ResourceName("ops"),
    )
)
server = MetricsServer(alert_routers=(site.alert_router_address,))
deployment = Deployment(topology=site, scores=[routes, server, default_alert_pack()])
