"""``harmony check``: the static guarantee, then a load that validates every Score without any I/O."""

from __future__ import annotations

import json

from rich.console import Console

from harmony.cli.loading import load, locate
from harmony.cli.typecheck import run_pyright
from harmony.domain.errors import DeploymentError
from harmony.domain.score import score_adapter
from harmony.domain.secret import REVEAL

console = Console()


class CheckFailed(DeploymentError):
    pass


def check_deployment(spec: str, *, as_json: bool) -> None:
    _, sys_path_dir, files = locate(spec)
    diagnostics = run_pyright([files], extra_paths=[sys_path_dir] if sys_path_dir else [])
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        if as_json:
            print(json.dumps({"ok": False, "errors": [d.__dict__ for d in errors]}))
        else:
            for d in errors:
                console.print(str(d), highlight=False, markup=False, soft_wrap=True)
        raise CheckFailed(f"{len(errors)} type error(s) in {spec}; nothing was loaded or run")
    loaded = load(spec)
    every = [s for _, scores in loaded.deployment.by_host() for s in scores]
    for score in every:
        adapter = score_adapter()
        # In memory only: secrets must survive the round trip, and are masked in every dump that is output.
        again = adapter.validate_json(adapter.dump_json(score, context=REVEAL))
        if again != score:
            raise DeploymentError(f"{score.name} does not survive a JSON round trip; check its field types")
    summary = {
        "ok": True,
        "deployment": loaded.name,
        "topology": loaded.deployment.topology.name,
        "scores": len(every),
        "smoke_tests": len(loaded.deployment.smoke_tests),
    }
    if as_json:
        print(json.dumps(summary))
    else:
        console.print(
            f"[green]ok[/] {loaded.name}: {summary['scores']} Score(s) on {summary['topology']} type-check and validate"
        )
