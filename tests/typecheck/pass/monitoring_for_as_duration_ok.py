"""An alert rule's ``for_`` as a ``timedelta``."""

from __future__ import annotations

from datetime import timedelta

from harmony.domain.capabilities.metrics import AlertRule, Severity

rule = AlertRule(name="Down", expr="up == 0", for_=timedelta(minutes=5), severity=Severity.CRITICAL)
