"""``AlertRules``: one group of typed alert rules, checked by the collector (and its rule tests run) at plan
time, so an invalid expression fails the run before anything is applied."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from harmony.domain.capabilities.metrics import AlertRule, AlertRuleGroup, MetricsCollector, format_duration
from harmony.domain.change import Change
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import AnyScore, Score
from harmony.modules.keyed_diff import field_changes, keyed_changes


class AlertRules(Score[MetricsCollector]):
    """The collector evaluates ``group`` (``present=False``: the group is removed).

    Alongside other ``AlertRules`` of the run: group names and alert names are unique across groups.
    """

    kind: Literal["alert_rules"] = "alert_rules"
    group: AlertRuleGroup
    present: bool = True

    @property
    def name(self) -> str:
        return f"alert-rules:{self.group.name}"

    @classmethod
    def check_alongside(cls, scores: Sequence[AnyScore]) -> None:
        groups: set[str] = set()
        alerts: dict[str, str] = {}
        for s in scores:
            if not isinstance(s, AlertRules) or not s.present:
                continue
            if s.group.name in groups:
                raise InvalidValueError("alert rule group name", s.group.name, "each group in one AlertRules Score")
            groups.add(s.group.name)
            for rule in s.group.rules:
                other = alerts.get(rule.name)
                if other is not None:
                    raise InvalidValueError(
                        f"alert rule group {s.group.name}: rule name", rule.name, f"a name not used by group {other}"
                    )
                alerts[rule.name] = s.group.name

    def interpret(self) -> Interpret[MetricsCollector]:
        return _AlertRulesInterpret(self)


def _describe(rule: AlertRule) -> str:
    body = {
        "expr": rule.expr,
        "for": format_duration(rule.for_),
        "severity": rule.severity.value,
        "labels": dict(rule.labels),
        "annotations": dict(rule.annotations),
        "tests": len(rule.tests),
    }
    return json.dumps(body, sort_keys=True)


def plan_group(desired: AlertRuleGroup | None, current: AlertRuleGroup | None) -> list[Change]:
    """Rule by rule, then the group's interval (a pure diff)."""
    before = {r.name: _describe(r) for r in current.rules} if current else {}
    after = {r.name: _describe(r) for r in desired.rules} if desired else {}
    group = desired or current
    name = group.name if group else ""
    changes = keyed_changes(f"alert rule {name}/", before, after)
    if desired is not None and current is not None:
        interval = {"interval": format_duration(current.interval) if current.interval else None}
        wanted = {"interval": format_duration(desired.interval) if desired.interval else None}
        changes += field_changes(f"alert rule group {name}", interval, wanted)
    return changes


class _AlertRulesInterpret(Interpret[MetricsCollector]):
    def __init__(self, score: AlertRules) -> None:
        self.score = score

    async def plan(self, topology: MetricsCollector) -> Sequence[Change]:
        group = self.score.group
        current = next((g for g in await topology.alert_rule_groups() if g.name == group.name), None)
        if self.score.present and current != group:  # the group as applied passed this check then
            await topology.check_alert_rule_group(group)
        changes = plan_group(group if self.score.present else None, current)
        if self.score.present and current is not None and not changes and current != group:
            changes.append(Change.update(f"alert rule group {group.name}", "rule tests changed\n"))
        return changes

    async def apply(self, topology: MetricsCollector, changes: Sequence[Change]) -> Outcome:
        if not self.score.present:
            await topology.remove_alert_rule_group(self.score.group.name)
            return Outcome.success(f"alert rule group {self.score.group.name} removed")
        await topology.put_alert_rule_group(self.score.group)
        return Outcome.success(f"alert rule group {self.score.group.name}: {len(self.score.group.rules)} rules")
