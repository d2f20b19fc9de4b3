"""The fleet benchmark still runs: its bench-only container runtime follows the agent's calls.

The runtime is not a whole ``ContainerRuntime`` (so the type checker does not hold it to the protocol); when the
protocol gained ``remove_container(..., listed=...)`` the bench failed every upgrade and nobody saw it until the
next quiet benchmark run. Twenty devices, one worker: a few seconds against the real nats-server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fleet_bench.py"


def test_the_fleet_benchmark_rolls_out_to_every_device_and_reports_its_figures(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--devices", "20", "--workers", "1", "--reps", "1", "--heartbeat-window", "1"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        env={**os.environ, "HARMONY_BENCH_RESULTS": str(tmp_path / "results.jsonl")},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert out["devices"] == 20 and len(out["rollout_upgrade_runs_s"]) == 1
    recorded = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {r["bench"] for r in recorded} == {"fleet"} and len(recorded) >= 3
