"""``harmony check``: every finding with file, line and class; warnings that block only with --strict; the
daemons' own validators on the configuration the Scores would install (real haproxy, dnsmasq and nft)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from harmony.cli.daemon_check import check_daemons
from harmony.domain.capabilities.dns import CnameRecord
from harmony.domain.values import DnsName
from harmony.modules.dns import DnsZone
from tests.integration.test_cli import harmony

DRAINING = """
from pathlib import Path
from harmony import Deployment
from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.names import ResourceName
from harmony.domain.values import IPv4Address, Port
from harmony.modules.load_balancer import LoadBalancing
from harmony.topology.edge_router import EdgeRouter

router = EdgeRouter(name="router", state_dir=Path({state!r}))
old = Backend(name=ResourceName("old"), address=IPv4Address("10.0.0.5"), port=Port(8080), state="draining")
deployment = Deployment(
    topology=router,
    scores=[LoadBalancing(frontends=(Frontend(name=ResourceName("web"), port=Port(8080), backends=(old,)),))],
)
"""

CLASH = """
from pathlib import Path, PurePosixPath
from harmony import Deployment
from harmony.modules.files import ManagedDirectory, ManagedFile, Symlink
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(
    topology=LinuxHost.local(root=Path({root!r})),
    scores=[
        ManagedDirectory(path=PurePosixPath("/etc/app")),
        Symlink(path=PurePosixPath("/etc/app"), target="/opt/app"),
        ManagedFile(path=PurePosixPath("/etc/app/x.conf"), content="x"),
    ],
)
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_json_lists_every_finding_with_file_line_and_class(tmp_path: Path) -> None:
    deploy = _write(tmp_path, "clash_deploy", CLASH.format(root=str(tmp_path)))
    result = harmony("check", "--json", str(deploy))
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    found = {(f["class"], f["line"]) for f in report["findings"]}
    assert found == {("path_kind_conflict", 11), ("path_under_symlink", 12)}, report
    for f in report["findings"]:
        assert f["file"] == str(deploy)
        assert f["severity"] == "error"
        assert "expected" in f["message"]


def test_a_warning_is_shown_but_blocks_only_with_strict(tmp_path: Path) -> None:
    deploy = _write(tmp_path, "draining_deploy", DRAINING.format(state=str(tmp_path / "edge")))
    ok = harmony("check", str(deploy))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "warning [all_backends_draining]" in ok.stdout
    assert "1 warning(s)" in ok.stdout
    strict = harmony("check", "--strict", "--json", str(deploy))
    assert strict.returncode == 1
    (finding,) = json.loads(strict.stdout)["findings"]
    assert finding["class"] == "all_backends_draining"
    assert finding["severity"] == "warning"
    assert finding["line"] == 14


def test_plan_shows_warnings_and_goes_on(tmp_path: Path) -> None:
    deploy = _write(tmp_path, "draining_plan_deploy", DRAINING.format(state=str(tmp_path / "edge")))
    plan = harmony("plan", str(deploy), "--journal", str(tmp_path / "journal.db"))
    assert "warning [all_backends_draining]" in plan.stderr, plan.stderr
    assert "every backend of frontend web is draining" in plan.stderr


def test_configuration_the_daemon_refuses_becomes_a_finding() -> None:
    # A CNAME to itself passes the record set's own validation (the deployment-wide pass reports it as a
    # loop); called alone, the validator shows dnsmasq's own refusal of the rendered configuration.
    loop = DnsZone(
        zone=DnsName("office.lan"),
        records=(CnameRecord(name=DnsName("a.office.lan"), target=DnsName("a.office.lan")),),
    )
    (result,) = check_daemons([loop])
    assert result.daemon == "dnsmasq"
    assert result.checked
    (finding,) = result.findings
    assert finding.rule == "dnsmasq_refuses"
    assert "CNAME loop involving a.office.lan" in finding.message
    assert finding.file == __file__


def test_the_office_edge_example_passes_all_three_validators() -> None:
    from harmony.cli.loading import load

    deployment = load("examples/office_edge_deploy").deployment
    results = check_daemons(deployment.scores)
    assert sorted((r.daemon, r.checked, r.findings) for r in results) == [
        ("dnsmasq", True, ()),
        ("haproxy", True, ()),
        ("nft", True, ()),
    ]
