"""Shared test set-up.

Real components are started by the fixture plugins in ``tests/fixtures/`` (one module per daemon). Under
``scripts/test`` (``HARMONY_NO_SKIP=1``) a skipped test is a failure: a test that needs a real component must
run, not quietly skip because the component is missing.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

pytest_plugins: list[str] = [
    "tests.fixtures.ssh_hosts",
    "tests.fixtures.nats",
    "tests.fixtures.failover_netns",
    "tests.fixtures.podman",
    "tests.fixtures.nats_fleet",
    "tests.fixtures.fleet_controller",
    "tests.fixtures.netns",
    "tests.fixtures.app_host",
    "tests.fixtures.edge",
    "tests.fixtures.machines",
    "tests.fixtures.openbao",
    "tests.fixtures.nats_auth",
    "tests.fixtures.monitoring",
    "tests.fixtures.registry",
    "tests.fixtures.agent_binary",
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and os.environ.get("HARMONY_NO_SKIP") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under HARMONY_NO_SKIP=1 (a required component is missing?): {report.longrepr}"


@pytest.fixture(autouse=True)
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test journals into its own file, never the user's."""
    path = tmp_path / "journal.sqlite3"
    monkeypatch.setenv("HARMONY_JOURNAL", str(path))
    return path
