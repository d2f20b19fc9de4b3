"""How the static guarantee scales: type-checking generated deployments of N hosts and N Scores.

    .venv/bin/python bench/check_bench.py [--sizes 10 100 1000] [--repeat 3]

For each size it writes a deployment package (an Inventory of N typed hosts and N ManagedFile Scores on a
LinuxHost) and times, as the median of ``--repeat`` runs:
- ``harmony check`` end to end (type check + load + validation of every Score, through the console script):
  with mypy and a warm cache (the default checker; warm after the first check of that deployment), with mypy
  first (nothing cached on the machine), with mypy cold (the first check of this deployment: its cache starts
  from the base of Harmony's types the first check left), and with ``--checker pyright``;
- pyright alone (every run is cold: pyright keeps no cache between processes);
- mypy cold (no cache) and warm (cache from the previous run, file unchanged);
- ty (if installed), as a fast pre-check.
The baseline row is a deployment file that only imports the framework: the fixed cost of checking against
Harmony's own types.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from results import record  # bench/results.py, beside this script

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- check-bench:start -->", "<!-- check-bench:end -->"

BASELINE = "import harmony\n\nprint(harmony.Deployment)\n"


def deployment_source(n: int) -> str:
    hosts = ",\n".join(
        f'    Host(name=Hostname("node-{i}"), address=IPv4Address("10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"), '
        f'labels={{"rack": "r{i % 8}"}})'
        for i in range(n)
    )
    scores = ",\n".join(
        f'        ManagedFile(path=PurePosixPath("/srv/conf/node-{i}.conf"), content="id = {i}\\n", '
        'mode=FileMode("0640"))'
        for i in range(n)
    )
    return f'''"""Generated: {n} hosts and {n} Scores."""

from ipaddress import IPv4Address
from pathlib import Path, PurePosixPath

from harmony import Deployment, Host, Hostname, Inventory
from harmony.domain.units import FileMode
from harmony.modules.files import ManagedDirectory, ManagedFile
from harmony.topology.linux_host import LinuxHost

inventory = Inventory(hosts=(
{hosts},
))

deployment = Deployment(
    topology=LinuxHost.local(root=Path("/tmp/harmony-bench-root")),
    scores=[
        ManagedDirectory(path=PurePosixPath("/srv")),
        ManagedDirectory(path=PurePosixPath("/srv/conf")),
{scores},
    ],
)
'''


def timed(argv: Sequence[str], cwd: Path, expect_ok: bool = True, env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - t0
    if expect_ok and proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def median(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def measure(pkg: Path, work: Path, repeat: int) -> dict[str, float]:
    cache = work / ".mypy_cache"
    target = str(pkg / "__init__.py")
    mypy = [str(BIN / "mypy"), "--strict", "--cache-dir", str(cache), target]

    def mypy_cold() -> float:
        shutil.rmtree(cache, ignore_errors=True)
        return timed(mypy, work)

    xdg = work / "xdg-cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(xdg)}
    check = [str(BIN / "harmony"), "check", str(pkg)]
    check_mypy = [*check, "--checker", "mypy"]
    check_pyright = [*check, "--checker", "pyright"]

    def check_first() -> float:  # nothing cached on the machine: Harmony's types are checked too
        shutil.rmtree(xdg, ignore_errors=True)
        return timed(check_mypy, work, env=env)

    def check_cold() -> float:  # a new deployment: its cache starts from the base the first check left
        for deployment_cache in (xdg / "harmony").glob("mypy-*"):
            if deployment_cache.is_dir():
                shutil.rmtree(deployment_cache)
        return timed(check_mypy, work, env=env)

    edits = itertools.count()

    def check_warm() -> float:
        with (pkg / "__init__.py").open("a") as f:  # a deployment just edited: its own file is checked again
            f.write(f"# edit {next(edits)}\n")
        return timed(check_mypy, work, env=env)

    row = {
        "check --checker mypy (first)": median(check_first, repeat),
        "check --checker mypy (cold)": median(check_cold, repeat),
        "check --checker mypy (warm)": median(check_warm, repeat),
        "check --checker pyright": median(lambda: timed(check_pyright, work), repeat),
        "pyright": median(lambda: timed([str(BIN / "pyright"), "--pythonpath", sys.executable, target], work), repeat),
        "mypy cold": median(mypy_cold, repeat),
    }
    timed(mypy, work)
    row["mypy warm"] = median(lambda: timed(mypy, work), repeat)
    if (BIN / "ty").exists():
        ty = [str(BIN / "ty"), "check", "--python", sys.executable, target]
        row["ty"] = median(lambda: timed(ty, work), repeat)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-doc", action="store_true", help="print the table only")
    args = parser.parse_args()

    rows: list[tuple[str, dict[str, float]]] = []
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="harmony-check-bench-") as tmp:
        work = Path(tmp)
        cases = [("framework import only", BASELINE)] + [
            (f"{n} hosts + {n} Scores", deployment_source(n)) for n in args.sizes
        ]
        for i, (label, source) in enumerate(cases):
            pkg = work / f"gen{i}_deploy"
            pkg.mkdir()
            (pkg / "__init__.py").write_text(
                source
                if i
                else source + "from harmony import Deployment\n"
                "from harmony.topology.linux_host import LinuxHost\n"
                "deployment = Deployment(topology=LinuxHost.local(), scores=[])\n"
            )
            print(f"measuring {label} ...", file=sys.stderr)
            rows.append((label, measure(pkg, work, args.repeat)))
            if label == "1000 hosts + 1000 Scores":  # issue 21's target: ≤ 3 s, same soundness (the corpus)
                for column in (
                    "check --checker mypy (warm)",
                    "check --checker mypy (cold)",
                    "check --checker mypy (first)",
                    "check --checker pyright",
                ):
                    record("check", f"{column}, {label}", rows[-1][1][column], "s", target=3.0)

    columns = list(rows[0][1])
    base = rows[0][1]
    lines = [
        "| deployment | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for label, row in rows:
        cells = [f"{row[c]:.2f} s" + ("" if row is base else f" ({row[c] / base[c]:.1f}×)") for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    load = f"load average {load_before} before the runs, {load_average()} after"
    print(table)
    print(load)
    if not args.no_doc:
        write_section(table, args.repeat, load)


def load_average() -> str:
    """The 1-minute load average of this machine (other work on the shared cores slows every tool alike)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def write_section(table: str, repeat: int, load: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = (
        f"{START}\n_Measured {stamp} on this project's 2-core machine ({load}), median of {repeat} runs; in "
        "brackets the ratio to checking a file that only imports the framework. "
        f"Rerun: `.venv/bin/python bench/check_bench.py`._\n\n"
        f"{table}\n{END}"
    )
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if START in text:
        head, rest = text.split(START, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text += f"\n## `harmony check`: how the static guarantee scales\n\n{body}\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)


if __name__ == "__main__":
    main()
