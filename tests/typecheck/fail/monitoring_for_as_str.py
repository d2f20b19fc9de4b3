# fails: type check
"""An alert rule's ``for_`` given as a string: it is a duration (``timedelta``)."""

from __future__ import annotations

from harmony.domain.capabilities.metrics import AlertRule, Severity

rule = AlertRule(name="Down", expr="up == 0", for_="5m", severity=Severity.CRITICAL)  # expect-error
