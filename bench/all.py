"""Every benchmark in one go, and one table of their headline figures against their targets.

    .venv/bin/python bench/all.py [--only hosts,check,...] [--quick] [--no-doc]

Each benchmark runs as its own process (as documented in bench/README.md, writing its own section of
docs/benchmarks.md) and records its headline figures through ``bench/results.py``; this script prints them
in one table — a regression shows as a ratio past its target — and writes it at the top of
docs/benchmarks.md. Needs root and the peers (`.venv/bin/pip install -e '.[bench]'`). The machine's load
average is printed with the table: figures taken under load are not comparable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import Figure, read  # bench/ is not a package: its scripts run by path

BENCH = Path(__file__).resolve().parent
DOC = BENCH.parent / "docs" / "benchmarks.md"
START, END = "<!-- all-bench:start -->", "<!-- all-bench:end -->"

# name -> (script, full arguments, --quick arguments)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "hosts": ("hosts_bench.py", ["--hosts", "1,25,100"], ["--hosts", "25", "--repeat", "1"]),
    "check": ("check_bench.py", [], ["--sizes", "1000", "--repeat", "1"]),
    "fleet": ("fleet_bench.py", ["--devices", "10000"], ["--devices", "1000", "--reps", "1"]),
    "failover": ("failover_bench.py", [], ["--runs", "5"]),
    "edge": ("edge_bench.py", [], ["--repeat", "1"]),
    "config": ("config_bench.py", [], ["--repeat", "5"]),
    "app": ("app_bench.py", [], ["--repeat", "1"]),
    "remote": ("remote_bench.py", [], ["--repeat", "1"]),
    "registry": ("registry_bench.py", [], ["--repeat", "1"]),
    "monitoring": ("monitoring_bench.py", [], ["--devices", "200"]),
    "dashboard": ("dashboard_bench.py", [], ["--renders", "10", "--changes", "5"]),
    "bare_metal": ("bare_metal_bench.py", [], ["--repeat", "1", "--no-install"]),
    "sites": ("sites_bench.py", [], ["--sites", "2", "--per-site", "20", "--changes", "100", "--reps", "1"]),
    "agent-upgrade": ("agent_upgrade_bench.py", ["--devices", "3"], ["--devices", "2"]),
}


def table(figures: list[Figure]) -> str:
    lines = ["| bench | measure | value | target | |", "|---|---|---:|---:|---|"]
    for f in figures:
        target = "" if f.target is None else f"{'≤' if f.better == 'lower' else '≥'} {f.target:g} {f.unit}"
        verdict = {True: "met", False: "**missed**", None: ""}[f.met]
        value = f"{f.value:.3g} {f.unit}" + (f" ({f.note})" if f.note else "")
        lines.append(f"| {f.bench} | {f.measure} | {value} | {target} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (a smoke run)")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    chosen = [n for n in args.only.split(",") if n]
    unknown = [n for n in chosen if n not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; expected some of {', '.join(BENCHES)}")
    with tempfile.TemporaryDirectory(prefix="harmony-bench-all-") as tmp:
        results = Path(tmp) / "results.jsonl"
        env = {**os.environ, "HARMONY_BENCH_RESULTS": str(results)}
        failed: list[str] = []
        started = time.monotonic()
        for name in chosen:
            script, full, quick = BENCHES[name]
            argv = [sys.executable, str(BENCH / script), *(quick if args.quick else full)]
            if (
                args.no_doc
                and "--no-doc" in subprocess.run([*argv[:2], "--help"], capture_output=True, text=True).stdout
            ):
                argv.append("--no-doc")
            print(f"== {name}: {' '.join(argv[1:])}", flush=True)
            t0 = time.monotonic()
            if subprocess.run(argv, env=env, check=False).returncode != 0:
                failed.append(name)
            print(f"== {name}: {time.monotonic() - t0:.0f} s", flush=True)
        figures = read(results)
    load = os.getloadavg()
    body = table(figures)
    stamp = time.strftime("%Y-%m-%d")
    head = (
        f"_{stamp}, `bench/all.py{' --quick' if args.quick else ''}` ({', '.join(chosen)}) in "
        f"{(time.monotonic() - started) / 60:.0f} min on this 2-core machine; load average at the end "
        f"{load[0]:.1f}. Each figure's bench has its own section below._"
    )
    print(f"\n{head}\n\n{body}")
    if failed:
        print(f"\nfailed: {', '.join(failed)} (their figures are missing above)", file=sys.stderr)
    if not args.no_doc:
        write_section(f"{head}\n\n{body}")
    sys.exit(1 if failed else 0)


def write_section(text: str) -> None:
    section = f"{START}\n{text}\n{END}"
    doc = DOC.read_text()
    if START in doc:
        before, rest = doc.split(START, 1)
        doc = before + section + rest.split(END, 1)[1]
    else:
        title, _, rest = doc.partition("\n")
        doc = f"{title}\n\n## All benchmarks at a glance\n\n{section}\n{rest}"
    DOC.write_text(doc)


if __name__ == "__main__":
    main()
