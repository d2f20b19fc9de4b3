"""Monitoring: a metrics collector, its scrape jobs and alert rules, the alert router, host exporters."""

from harmony.modules.monitoring.pack import default_alert_pack, default_alert_rules
from harmony.modules.monitoring.routing import AlertRoutes
from harmony.modules.monitoring.rules import AlertRules
from harmony.modules.monitoring.scrape import Scrape, failover_agent_targets, fleet_device_targets, inventory_targets
from harmony.modules.monitoring.server import HostMetrics, MetricsServer

__all__ = [
    "AlertRoutes",
    "AlertRules",
    "HostMetrics",
    "MetricsServer",
    "Scrape",
    "default_alert_pack",
    "default_alert_rules",
    "failover_agent_targets",
    "fleet_device_targets",
    "inventory_targets",
]
