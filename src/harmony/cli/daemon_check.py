"""The daemons' own offline validators, run by ``harmony check`` on the configuration the Scores would write.

The configuration is rendered by the adapters' own renderers (the text ``apply`` would install) into a
temporary directory, and checked there with ``haproxy -c``, ``dnsmasq --test`` and ``nft -c``: nothing is
started, and no live configuration is read or touched. A validator that is not installed is skipped and
said so; a refusal becomes a finding on the Scores that produced the configuration.

Not guaranteed: that the daemon will accept the configuration beside what other deployments installed on
the same host (only ``apply`` sees that), nor anything a validator does not check (e.g. a port in use).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harmony.domain.capabilities.load_balancer import Backend, Frontend
from harmony.domain.consistency import Finding, finding
from harmony.domain.names import ResourceName
from harmony.domain.score import AnyScore
from harmony.domain.values import IPv4Address, Port
from harmony.infra import dnsmasq, haproxy, nftables
from harmony.infra.programs import DNSMASQ, HAPROXY, NFT, Program
from harmony.modules.application import Application
from harmony.modules.application.exposure import frontend_for
from harmony.modules.dhcp import DhcpScope
from harmony.modules.dns import DnsZone
from harmony.modules.firewall import FirewallRules
from harmony.modules.load_balancer import LoadBalancing

_PLACEHOLDER = Backend(name=ResourceName("placeholder"), address=IPv4Address("127.0.0.1"), port=Port(1))


@dataclass(frozen=True)
class DaemonCheck:
    """One validator's verdict: ``skipped`` when the program is not installed."""

    daemon: str
    checked: bool
    findings: tuple[Finding, ...] = ()
    note: str = ""


def check_daemons(scores: Sequence[AnyScore]) -> list[DaemonCheck]:
    """Run every validator that has something to check in ``scores`` (the Scores of one host)."""
    results: list[DaemonCheck] = []
    with tempfile.TemporaryDirectory(prefix="harmony-check-daemons-") as tmp:
        root = Path(tmp)
        frontends = _frontends(scores)
        if frontends:
            results.append(_haproxy(root / "haproxy", frontends))
        fragments = _dnsmasq_fragments(scores)
        if fragments:
            results.append(_dnsmasq(root / "dnsmasq", fragments))
        firewalls = [s for s in scores if isinstance(s, FirewallRules)]
        for score in firewalls:
            results.append(_nft(root / "nftables", score))
    return results


def _frontends(scores: Sequence[AnyScore]) -> list[tuple[AnyScore, Frontend]]:
    out: list[tuple[AnyScore, Frontend]] = []
    for s in scores:
        if isinstance(s, LoadBalancing) and s.present:
            out += [(s, f) for f in s.frontends]
        elif isinstance(s, Application):
            out.append((s, frontend_for(s.app, s.expose, (_PLACEHOLDER,))))
    return out


def _dnsmasq_fragments(scores: Sequence[AnyScore]) -> list[tuple[AnyScore, str, str]]:
    out: list[tuple[AnyScore, str, str]] = []
    for s in scores:
        if isinstance(s, DnsZone) and s.present:
            out.append((s, f"dns-{s.owner_name}.conf", dnsmasq.render_record_set(s.record_set())))
        elif isinstance(s, DhcpScope) and s.present:
            tag = dnsmasq.subnet_tag(s.subnet.network)
            out.append((s, f"dhcp-{tag}.conf", dnsmasq.render_subnet(s.subnet)))
    return out


@dataclass(frozen=True)
class _Result:
    ok: bool
    output: str


def _run(argv: Sequence[str]) -> _Result:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return _Result(ok=False, output=f"could not run {argv[0]}: {e}")
    return _Result(ok=proc.returncode == 0, output=(proc.stderr or proc.stdout))


def _missing(program: Program, daemon: str) -> DaemonCheck | None:
    if program.find() is None:
        return DaemonCheck(daemon, checked=False, note=f"{program.name} is not installed here: not checked")
    return None


def _refused(daemon: str, owners: Sequence[AnyScore], detail: str, tmp: Path) -> DaemonCheck:
    text = detail.strip().replace(str(tmp) + "/", "")[-600:]
    found = tuple(
        finding(
            "error",
            f"{daemon}_refuses",
            s,
            "configuration",
            f"{daemon} refuses the configuration: {text}; expected one the daemon accepts",
        )
        for s in owners[:1]
    )
    return DaemonCheck(daemon, checked=True, findings=found)


def _haproxy(tmp: Path, frontends: Sequence[tuple[AnyScore, Frontend]]) -> DaemonCheck:
    missing = _missing(HAPROXY, "haproxy")
    if missing:
        return missing
    tmp.mkdir(parents=True)
    (tmp / "00-global.cfg").write_text(haproxy.render_global(tmp))
    for i, (_, f) in enumerate(frontends):
        (tmp / f"fe-{i:03d}-{f.name}.cfg").write_text(haproxy.render_frontend(f))
    result = _run(HAPROXY.argv("-c", "-q", "-f", str(tmp)))
    if result.ok:
        return DaemonCheck("haproxy", checked=True)
    return _refused("haproxy", [s for s, _ in frontends], result.output, tmp)


def _dnsmasq(tmp: Path, fragments: Sequence[tuple[AnyScore, str, str]]) -> DaemonCheck:
    missing = _missing(DNSMASQ, "dnsmasq")
    if missing:
        return missing
    (tmp / "conf.d").mkdir(parents=True)
    (tmp / "tftp").mkdir()
    conf = tmp / "dnsmasq.conf"
    conf.write_text(dnsmasq.render_main(tmp, port=53, interfaces=()))
    for _, name, text in fragments:
        (tmp / "conf.d" / name).write_text(text)
    result = _run(DNSMASQ.argv("--test", f"--conf-file={conf}"))
    if result.ok:
        return DaemonCheck("dnsmasq", checked=True)
    return _refused("dnsmasq", [s for s, _, _ in fragments], result.output, tmp)


def _nft(tmp: Path, score: FirewallRules) -> DaemonCheck:
    missing = _missing(NFT, "nft")
    if missing:
        return missing
    tmp.mkdir(parents=True, exist_ok=True)
    script = tmp / "ruleset.nft"
    script.write_text(nftables.render(score.policy, "harmony_check"))
    result = _run(NFT.argv("-c", "-f", str(script)))
    if result.ok:
        return DaemonCheck("nft", checked=True)
    detail = result.output
    if "Operation not permitted" in detail:
        return DaemonCheck("nft", checked=False, note="nft -c needs root (CAP_NET_ADMIN) here: not checked")
    return _refused("nft", [score], detail, tmp)
