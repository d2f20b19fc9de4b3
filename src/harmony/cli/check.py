"""``harmony check``: everything that can be known before touching a machine, as one list of findings.

In order, each stage only when the one before found no error:
1. the type checker (mypy with its cache, or pyright; strict) over the deployment's files — class ``type_error``;
2. loading the deployment: every Score validates its own fields, and the deployment-wide pass relates the
   claims of all Scores on a host (``domain.consistency``) — errors and warnings with their own classes;
3. every Score survives its JSON round trip (the wire form fleets and the journal use);
4. the daemons' own offline validators on the configuration the Scores would install (``daemon_check``).
Warnings never fail the check unless ``--strict``. ``--json`` prints every finding with file, line, class,
severity and message.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict

from rich.console import Console
from rich.markup import escape

from harmony.cli.daemon_check import DaemonCheck, check_daemons
from harmony.cli.loading import LoadedDeployment, load, locate
from harmony.cli.typecheck import Checker, run_checker
from harmony.domain.consistency import Finding, InconsistentDeploymentError
from harmony.domain.errors import ConfigError, DeploymentError
from harmony.domain.score import AnyScore, score_adapter
from harmony.domain.secret import REVEAL

console = Console()
_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*\.py):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)


class CheckFailed(DeploymentError):
    pass


def check_deployment(
    spec: str, *, as_json: bool, strict: bool = False, daemons: bool = True, checker: Checker = "mypy"
) -> None:
    findings, loaded, notes = collect_findings(spec, daemons=daemons, checker=checker)
    blocking = [f for f in findings if f.severity == "error" or strict]
    if as_json:
        summary: dict[str, object] = {"ok": not blocking, "findings": [_as_json(f) for f in findings], "notes": notes}
        if loaded is not None:
            summary |= {
                "deployment": loaded.name,
                "topology": loaded.deployment.topology.name,
                "scores": len(_every(loaded)),
                "smoke_tests": len(loaded.deployment.smoke_tests),
            }
        print(json.dumps(summary))
    else:
        for f in findings:
            colour = "red" if f.severity == "error" or strict else "yellow"
            console.print(f"[{colour}]{escape(str(f))}[/]", highlight=False, soft_wrap=True)
        for note in notes:
            console.print(f"[dim]{escape(note)}[/]", highlight=False)
    if blocking:
        kinds = "error(s)" if not strict else "error(s) and warning(s) (--strict)"
        typed = loaded is None and all(f.rule == "type_error" for f in blocking)
        raise CheckFailed(f"{len(blocking)} {kinds} in {spec}; nothing was {'loaded or run' if typed else 'run'}")
    if not as_json and loaded is not None:
        warned = f", {len(findings)} warning(s)" if findings else ""
        console.print(
            f"[green]ok[/] {loaded.name}: {len(_every(loaded))} Score(s) on {loaded.deployment.topology.name} "
            f"type-check and validate{warned}"
        )


def collect_findings(
    spec: str, *, daemons: bool = True, checker: Checker = "mypy"
) -> tuple[list[Finding], LoadedDeployment | None, list[str]]:
    """Every finding of the stages above for ``spec``, the loaded deployment (``None`` if it did not load),
    and notes (validators not run)."""
    _, sys_path_dir, files = locate(spec)
    diagnostics = run_checker(checker, [files], extra_paths=[sys_path_dir] if sys_path_dir else [])
    type_errors = [
        Finding("error", "type_error", "", "", d.message, file=d.file, line=d.line)
        for d in diagnostics
        if d.severity == "error"
    ]
    if type_errors:
        return type_errors, None, []
    return collect_after_typecheck(spec, daemons=daemons)


def collect_after_typecheck(
    spec: str, *, daemons: bool = True
) -> tuple[list[Finding], LoadedDeployment | None, list[str]]:
    """The stages after the type checker (for callers that ran it once over many deployments)."""
    try:
        loaded = load(spec)
    except DeploymentError as e:
        inconsistent = e if isinstance(e, InconsistentDeploymentError) else e.__cause__
        if isinstance(inconsistent, InconsistentDeploymentError):
            return list(inconsistent.findings), None, []
        if isinstance(e.__cause__, ConfigError):  # settings, not the deployment: reported with how to give them
            raise
        return [_load_error(e)], None, []
    findings = loaded.deployment.findings()
    for score in _every(loaded):
        adapter = score_adapter()
        # In memory only: secrets must survive the round trip, and are masked in every dump that is output.
        again = adapter.validate_json(adapter.dump_json(score, context=REVEAL))
        if again != score:
            findings.append(
                Finding(
                    "error",
                    "wire_round_trip",
                    score.name,
                    "",
                    "does not survive a JSON round trip; expected field types that serialise (check its field types)",
                )
            )
    notes: list[str] = []
    if daemons and not any(f.severity == "error" for f in findings):
        seen: set[int] = set()
        for _, scores in loaded.deployment.by_host():
            if id(scores) in seen:
                continue
            seen.add(id(scores))
            results: list[DaemonCheck] = check_daemons(scores)
            findings += [f for r in results for f in r.findings]
            notes += [r.note for r in results if r.note and r.note not in notes]
    return findings, loaded, notes


def _every(loaded: LoadedDeployment) -> list[AnyScore]:
    return [s for _, scores in loaded.deployment.by_host() for s in scores]


def _load_error(e: DeploymentError) -> Finding:
    text = str(e)
    m = _LOCATED.match(text)
    if m is None:
        return Finding("error", "load_error", "", "", text)
    return Finding("error", "load_error", "", "", m["message"], file=m["file"], line=int(m["line"]))


def _as_json(f: Finding) -> dict[str, object]:
    data = asdict(f)
    data["class"] = data.pop("rule")
    return data
