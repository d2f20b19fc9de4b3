"""Monitoring's typed models, renderings and plans: tables, no daemon."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from harmony.domain.capabilities.alerting import (
    AlertRouting,
    EmailReceiver,
    Inhibition,
    PushReceiver,
    Route,
    WebhookReceiver,
)
from harmony.domain.capabilities.metrics import (
    AlertRule,
    AlertRuleGroup,
    ScrapeJob,
    ScrapeTarget,
    ServiceAddress,
    Severity,
)
from harmony.domain.deployment import validate_order
from harmony.domain.errors import InvalidValueError
from harmony.domain.inventory import Host, Inventory
from harmony.domain.names import ResourceName
from harmony.domain.secret import MASK, Secret
from harmony.domain.units import format_duration, parse_duration
from harmony.domain.values import Hostname, IPv4Address, Port
from harmony.infra.alertmanager import mask, parse_alerts, render_config, secrets_of
from harmony.infra.prometheus import render_rule_file, render_targets
from harmony.modules.monitoring import AlertRules, inventory_targets
from harmony.modules.monitoring.routing import plan_routing
from harmony.modules.monitoring.scrape import plan_job

N = ResourceName


@pytest.mark.parametrize(
    ("given", "seconds", "written"),
    [
        ("2s", 2, "2s"),
        ("1h30m", 5400, "1h30m"),
        ("500ms", 0.5, "500ms"),
        (90, 90, "1m30s"),
        (timedelta(days=15), 15 * 86400, "15d"),
        ("0s", 0, "0s"),
    ],
)
def test_durations_parse_and_render(given: object, seconds: float, written: str) -> None:
    parsed = parse_duration(given)
    assert parsed.total_seconds() == seconds
    assert format_duration(parsed) == written


@pytest.mark.parametrize("bad", ["", "2 s", "5min", "-1s", -3, True, "1.5s"])
def test_bad_durations_name_what_is_expected(bad: object) -> None:
    with pytest.raises(InvalidValueError, match="duration"):
        parse_duration(bad)


def rule(name: str, expr: str = "up == 0") -> AlertRule:
    return AlertRule(name=name, expr=expr, severity=Severity.WARNING, for_=timedelta(seconds=2))


def test_duplicate_rule_name_in_a_group_is_rejected_at_load() -> None:
    with pytest.raises(ValidationError, match=r"rules\[1\].name.*'Down'.*unique alert name"):
        AlertRuleGroup(name=N("g"), rules=(rule("Down"), rule("Down")))


def test_duplicate_rule_name_across_groups_is_rejected_before_anything_runs() -> None:
    a = AlertRules(group=AlertRuleGroup(name=N("a"), rules=(rule("Down"),)))
    b = AlertRules(group=AlertRuleGroup(name=N("b"), rules=(rule("Down"),)))
    with pytest.raises(InvalidValueError, match=r"alert rule group b: rule name: 'Down'.*not used by group a"):
        validate_order([a, b])


def test_severity_is_a_field_not_a_label() -> None:
    with pytest.raises(ValidationError, match="severity"):
        AlertRule(name="X", expr="up", severity=Severity.INFO, labels={"severity": "critical"})


def test_label_names_are_checked() -> None:
    with pytest.raises(ValidationError, match="label name"):
        AlertRule(name="X", expr="up", severity=Severity.INFO, labels={"bad-name": "x"})


def webhook(name: str = "ops", token: str | None = None) -> WebhookReceiver:
    return WebhookReceiver(
        name=N(name), url="http://127.0.0.1:9/hook", bearer_token=Secret(token) if token is not None else None
    )


def test_unknown_receiver_in_a_route_names_field_value_and_choices() -> None:
    with pytest.raises(ValidationError) as e:
        AlertRouting(receivers=(webhook("ops"),), default_receiver=N("ops"), routes=(Route(receiver=N("pager")),))
    assert "routes[0].receiver: 'pager' is not valid; expected one of the receivers: ops" in str(e.value)


def test_unknown_default_receiver_and_duplicate_receivers_are_rejected() -> None:
    with pytest.raises(ValidationError, match=r"default_receiver: 'nobody'"):
        AlertRouting(receivers=(webhook("ops"),), default_receiver=N("nobody"))
    with pytest.raises(ValidationError, match=r"receivers\[1\].name: 'ops'"):
        AlertRouting(receivers=(webhook("ops"), webhook("ops")), default_receiver=N("ops"))


def test_receiver_urls_carry_no_credentials() -> None:
    with pytest.raises(ValidationError, match="url"):
        WebhookReceiver(name=N("x"), url="http://user:pw@host/hook")


def routing_with_secrets() -> AlertRouting:
    return AlertRouting(
        receivers=(
            webhook("ops", token="tok-webhook"),
            PushReceiver(name=N("phone"), url="https://ntfy.example/site", token=Secret("tok-push")),
            EmailReceiver(
                name=N("mail"),
                to="ops@example.org",
                sender="harmony@example.org",
                smarthost=ServiceAddress(host=Hostname("smtp.example.org"), port=Port(587)),
                username="harmony",
                password=Secret("smtp-pass"),
            ),
        ),
        default_receiver=N("ops"),
        routes=(Route(receiver=N("phone"), severity=Severity.CRITICAL, site="office", continue_=True),),
        inhibitions=(
            Inhibition(source={"alertname": "NodeDown"}, target={"alertname": "DiskAlmostFull"}, equal=("instance",)),
        ),
    )


def test_alertmanager_rendering() -> None:
    config = json.loads(render_config(routing_with_secrets()))
    route = config["route"]["routes"][0]
    assert route == {"receiver": "phone", "matchers": ['severity="critical"', 'site="office"'], "continue": True}
    hook, push, mail = config["receivers"]
    assert hook["webhook_configs"][0]["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials": "tok-webhook",
    }
    assert push["webhook_configs"][0]["url"] == "https://ntfy.example/site"
    assert mail["email_configs"][0]["smarthost"] == "smtp.example.org:587"
    assert mail["email_configs"][0]["auth_password"] == "smtp-pass"
    assert config["inhibit_rules"][0]["equal"] == ["instance"]
    assert sorted(secrets_of(routing_with_secrets())) == ["smtp-pass", "tok-push", "tok-webhook"]
    assert mask("bad token tok-push here", ["tok-push"]) == f"bad token {MASK} here"


def test_routing_plan_never_shows_a_secret() -> None:
    desired = routing_with_secrets()
    created = plan_routing(desired, None)
    changed_secret = desired.model_copy(update={"receivers": (webhook("ops", token="other"), *desired.receivers[1:])})
    updated = plan_routing(changed_secret, desired)
    shown = "".join(c.diff for c in [*created, *updated])
    assert not any(s in shown for s in ("tok-webhook", "tok-push", "smtp-pass", "other"))
    assert [c.diff for c in updated] == ["a receiver secret changed (values not shown)\n"]
    assert plan_routing(desired, desired) == []


def test_rule_file_rendering() -> None:
    group = AlertRuleGroup(name=N("g"), rules=(rule("Down"),), interval=timedelta(seconds=5))
    rendered = json.loads(render_rule_file(group))
    assert rendered == {
        "groups": [
            {
                "name": "g",
                "interval": "5s",
                "rules": [{"alert": "Down", "expr": "up == 0", "for": "2s", "labels": {"severity": "warning"}}],
            }
        ]
    }


LOCAL = IPv4Address("127.0.0.1")


def target(port: int, **labels: str) -> ScrapeTarget:
    return ScrapeTarget(host=LOCAL, port=Port(port), labels=labels)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, (target(1),), ["create scrape job j", "create scrape j target 127.0.0.1:1"]),
        ((target(1),), (target(1),), []),
        ((target(1),), (target(1), target(2)), ["create scrape j target 127.0.0.1:2"]),
        ((target(1, device="a"),), (target(1, device="b"),), ["update scrape j target 127.0.0.1:1"]),
        ((target(1),), None, ["delete scrape job j", "delete scrape j target 127.0.0.1:1"]),
    ],
)
def test_scrape_plan(
    before: tuple[ScrapeTarget, ...] | None, after: tuple[ScrapeTarget, ...] | None, expected: list[str]
) -> None:
    def job(targets: tuple[ScrapeTarget, ...] | None) -> ScrapeJob | None:
        return None if targets is None else ScrapeJob(name=N("j"), targets=targets)

    assert [f"{c.action} {c.target}" for c in plan_job(job(after), job(before))] == expected


def test_targets_file_and_inventory_targets() -> None:
    inventory = Inventory(
        hosts=(
            Host(
                name=Hostname("web1"), address=IPv4Address("10.0.0.5"), roles=frozenset({"web"}), labels={"site": "a"}
            ),
            Host(name=Hostname("db1"), address=IPv4Address("10.0.0.6"), roles=frozenset({"db"})),
        )
    )
    targets = inventory_targets(inventory, port=Port(9100), role="web")
    assert json.loads(render_targets(ScrapeJob(name=N("node"), targets=targets))) == [
        {"targets": ["10.0.0.5:9100"], "labels": {"site": "a", "host": "web1"}}
    ]
    with pytest.raises(ValidationError, match="each target once"):
        ScrapeJob(name=N("j"), targets=(target(1), target(1)))


def test_parse_alertmanager_alerts() -> None:
    raw = json.dumps(
        [
            {
                "labels": {"alertname": "NodeDown", "severity": "critical", "instance": "h:1"},
                "annotations": {"summary": "down"},
                "startsAt": "2026-11-28T10:00:00.000Z",
                "status": {"state": "active"},
                "receivers": [{"name": "ops"}],
            }
        ]
    ).encode()
    (alert,) = parse_alerts(raw)
    assert (alert.name, alert.state, alert.severity, alert.receivers) == ("NodeDown", "active", "critical", ("ops",))
