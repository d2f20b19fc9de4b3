"""The dashboard's pure rules as tables: overview filters, where a login may lead, the login limiter, roles."""

from __future__ import annotations

import pytest

from harmony.dashboard.app import _safe_next  # pyright: ignore[reportPrivateUsage]  # the rule under test
from harmony.dashboard.security import LoginLimiter
from harmony.dashboard.views import Filters, parse_filters, rollout_actions
from harmony.domain.errors import InvalidValueError


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, Filters()),
        ({"site": " north "}, Filters(site="north")),
        ({"label": "ring=canary"}, Filters(label=("ring", "canary"))),
        ({"label": "ring="}, Filters(label=("ring", ""))),
        ({"status": "offline"}, Filters(status="offline")),
    ],
)
def test_filters(query: dict[str, str], expected: Filters) -> None:
    assert parse_filters(query) == expected


@pytest.mark.parametrize(("query", "field"), [({"label": "ring"}, "label"), ({"label": "=x"}, "label"),
                                               ({"status": "up"}, "status")])  # fmt: skip
def test_bad_filters_name_the_field(query: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        parse_filters(query)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("given", "safe"),
    [(None, "/"), ("/rollouts/web", "/rollouts/web"), ("//evil.example", "/"), ("https://evil.example", "/"),
     ("/\\evil.example", "/"), ("rollouts", "/")],
)  # fmt: skip
def test_a_login_leads_only_to_this_site(given: str | None, safe: str) -> None:
    assert _safe_next(given) == safe


def test_login_limiter_counts_failures_per_key_and_forgets_on_success() -> None:
    limiter = LoginLimiter(failures=3, window=60)
    for _ in range(3):
        assert limiter.retry_after("addr:a", "user:x") == 0
        limiter.failed("addr:a", "user:x")
    assert 59 < limiter.retry_after("addr:a") <= 60
    assert limiter.retry_after("addr:b", "user:x") > 0  # the user name is limited from any address
    assert limiter.retry_after("addr:b", "user:y") == 0
    limiter.succeeded("addr:a", "user:x")
    assert limiter.retry_after("addr:a", "user:x") == 0


@pytest.mark.parametrize(
    ("phase", "actions"),
    [("running", ("pause", "abort")), ("paused", ("resume", "abort")), ("halted", ("resume", "abort")),
     ("done", ()), ("aborted", ())],
)  # fmt: skip
def test_rollout_actions_follow_the_control_rules(phase: str, actions: tuple[str, ...]) -> None:
    assert rollout_actions(phase) == actions
