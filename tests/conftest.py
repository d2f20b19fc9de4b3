"""Shared test set-up.

Real components are started by the fixture plugins in ``tests/fixtures/`` (one module per daemon). Under
``scripts/test`` (``HARMONY_NO_SKIP=1``) a skipped test is a failure: a test that needs a real component must
run, not quietly skip because the component is missing.
"""

from __future__ import annotations

import os
import signal
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

# The Ctrl-C tests send SIGINT to processes they start. Launched as a background job of a non-interactive shell
# (or under nohup), the test run inherits SIGINT ignored; so would every process it starts (an ignored signal
# stays ignored across exec, and Python then installs no KeyboardInterrupt handler), and those tests would wait
# forever. Handled here instead, it is back to the default in what the tests start.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
