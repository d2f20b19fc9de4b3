"""What a smoke-test-gated, blue-green deploy costs next to doing the same steps by hand with podman.

    .venv/bin/python bench/app_bench.py [--repeat 3]

Each round uses a fresh isolated store, HAProxy and dnsmasq on free loopback ports, and times (median):
- Harmony: first deploy of ``examples/web_deploy`` (image built offline, container, smoke test, load
  balancer, DNS, companion check through the load balancer); a second apply (NOOP: plans only); an upgrade
  (new version beside the old, smoke-tested, switched, old stopped);
- by hand: ``podman import`` + ``podman run -d -p`` + polling ``GET /`` until it answers — the floor for
  "an image running and answering", with no load balancer, DNS, labels, or rollback.
Results replace the section between the markers in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples import web_deploy  # noqa: E402 - after the repository is on sys.path
from tests.fixtures.ports import free_port  # noqa: E402

from harmony.infra.podman import Podman, write_containers_conf  # noqa: E402
from harmony.modules.application.rootfs import busybox_rootfs_tar  # noqa: E402
from harmony.testing import apply  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- app-bench:start -->", "<!-- app-bench:end -->"


def drop_store(podman: Podman) -> None:
    """Remove the store's pods and containers, wait for podman's cleanup processes, remove its run root."""
    subprocess.run(podman.argv("pod", "rm", "-af", "-t", "0"), capture_output=True, check=False)
    subprocess.run(podman.argv("rm", "-af", "-t", "0"), capture_output=True, check=False)
    if podman.runroot is None:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _in_use(str(podman.runroot)):
        time.sleep(0.05)
    shutil.rmtree(podman.runroot, ignore_errors=True)


def _in_use(path: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if path.encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


async def harmony_round(work: Path) -> tuple[float, float, float]:
    port, dns_port = free_port(), free_port()
    first = web_deploy.build(state=work / "h", port=port, dns_port=dns_port)
    host = first.topology
    try:
        t0 = time.perf_counter()
        await apply(first)
        t1 = time.perf_counter()
        await apply(first)
        t2 = time.perf_counter()
        pages = {"index.html": "<h1>Harmony v2</h1>\n"}
        await apply(web_deploy.build(state=work / "h", port=port, dns_port=dns_port, pages=pages))
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2
    finally:
        await host.stop_services()
        drop_store(host.podman)


def by_hand_round(work: Path) -> float:
    podman = Podman.isolated(work / "p")
    assert podman.conf is not None
    assert podman.runroot is not None
    write_containers_conf(podman.conf)
    tar = work / "rootfs.tar"
    busybox = shutil.which("busybox")
    assert busybox is not None
    tar.write_bytes(busybox_rootfs_tar(Path(busybox).read_bytes(), {"www/index.html": "Harmony\n"}))
    port = free_port()
    try:
        t0 = time.perf_counter()
        subprocess.run(podman.argv("import", str(tar), "localhost/hand:1"), capture_output=True, check=True)
        subprocess.run(
            podman.argv("run", "-d", "--init", "-p", f"127.0.0.1:{port}:8080", "localhost/hand:1",
                        "httpd", "-f", "-p", "8080", "-h", "/www"),
            capture_output=True, check=True,
        )  # fmt: skip
        while not answers(port):
            time.sleep(0.02)
        return time.perf_counter() - t0
    finally:
        drop_store(podman)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"first": [], "noop": [], "upgrade": [], "hand": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="hm-app-bench-") as d:
            first, noop, upgrade = asyncio.run(harmony_round(Path(d)))
            rows["first"].append(first)
            rows["noop"].append(noop)
            rows["upgrade"].append(upgrade)
            rows["hand"].append(by_hand_round(Path(d)))
    med = {k: statistics.median(v) for k, v in rows.items()}
    hand = med["hand"]
    table = "\n".join(
        [
            f"_Measured {date.today()} on this project's 2-core machine (shared), median of {args.repeat} rounds; "
            "ratio to the by-hand floor in brackets. Rerun: `.venv/bin/python bench/app_bench.py`._",
            "",
            "| step | time |",
            "|---|---:|",
            f"| by hand: `podman import` + `podman run` + poll until it answers | {hand:.2f} s (1.0×) |",
            f"| Harmony first deploy (image, container, smoke test, HAProxy, dnsmasq, check via LB) "
            f"| {med['first']:.2f} s ({med['first'] / hand:.1f}×) |",
            f"| Harmony second apply (NOOP) | {med['noop']:.2f} s ({med['noop'] / hand:.1f}×) |",
            f"| Harmony blue-green upgrade (new beside old, smoke test, switch, drain, stop old) "
            f"| {med['upgrade']:.2f} s ({med['upgrade'] / hand:.1f}×) |",
        ]
    )
    print(table)
    text = DOC.read_text()
    section = f"{START}\n{table}\n{END}"
    if START in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text += f"\n## Applications: a smoke-test-gated blue-green deploy\n\n{section}\n"
    DOC.write_text(text)


if __name__ == "__main__":
    main()
