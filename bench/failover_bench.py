"""Failover benchmark: repeated randomized faults on one real PostgreSQL pair, and heartbeat write rates.

    .venv/bin/python bench/failover_bench.py [--runs 20] [--seed 7] [--no-docs]

Part 1 keeps one pair (nodes a and b, two agents, a real nats-server) and, run after run, kills the current
primary at a random moment while a write checker writes to both nodes: ``kill -9`` of its postmaster or of
its agent. It measures, with the store's own stamps, the failover time (the new primary's compare-and-set
minus the old primary's last serving heartbeat) against the configured ``failover_timeout`` (the design
floor), the write gap a client saw, and checks that no acknowledged write was lost and that the two nodes
never acknowledged writes at overlapping times, both as the client saw it and as the two servers' own logs of
committed writes show it. The old primary rejoins (pg_rewind) before the next run.

Part 2 compares, on the same server in the same run, the agent's heartbeat I/O (a stamped put: publish +
read back the store's stamp; and a whole tick: stamped put + state and peer reads) with raw nats-py
``KeyValue.put`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402 - after the path set-up, like every bench script
from nats.js.api import KeyValueConfig  # noqa: E402
from tests.fixtures.failover import FAST, Pair, WriteChecker, postgres_base, remove_base, rows, wait_for  # noqa: E402
from tests.fixtures.write_log import overlaps  # noqa: E402

from harmony.infra.nats import EmbeddedNats, NatsKeyValue, NatsOptions  # noqa: E402
from results import record  # noqa: E402 - bench/results.py, beside this script

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- failover-bench:start -->", "<!-- failover-bench:end -->"


async def failovers(runs: int, rng: random.Random, workdir: Path) -> list[dict[str, object]]:
    nats_server = EmbeddedNats(store_dir=workdir / "nats" / "js")
    await nats_server.start()
    base = postgres_base()
    pair = Pair(base, [nats_server.url])
    results: list[dict[str, object]] = []
    try:
        await pair.deploy()
        await pair.start_agents()
        primary, standby = "a", "b"
        await pair.wait_ready(primary, standby)
        for run in range(runs):
            fault = rng.choice(["kill-9-postgres", "kill-9-agent"])
            checker = WriteChecker({n: pair.endpoint(n) for n in ("a", "b")}, first_value=run * 10_000_000 + 1)
            log_offsets = pair.log_sizes()
            checker.start()
            await wait_for(lambda p=primary, c=checker: _true(bool(c.acked_on(p))), 20, f"writes on {primary}")
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            if fault == "kill-9-postgres":
                os.kill(pair.postmaster_pid(primary), signal.SIGKILL)
            else:
                await pair.agents[primary].kill()

            async def promoted(node: str = standby) -> object:
                s = await pair.state()
                return s if s and s.record.primary == node else None

            state = await wait_for(promoted, 60, f"{standby} promoted")
            await wait_for(lambda s=standby, c=checker: _true(bool(c.acked_on(s))), 30, f"writes on {standby}")
            await asyncio.sleep(0.3)
            await checker.stop()
            serving = [b.stored_at for b in await pair.beats(primary) if b.record.status == "serving"]
            failover = (state.stored_at - serving[-1]).total_seconds()  # type: ignore[attr-defined]
            old, new = checker.acked_on(primary), checker.acked_on(standby)
            present = {int(str(r[0])) for r in await rows(pair.endpoint(standby), "SELECT v FROM checker")}
            lost = sum(1 for a in checker.acks if a.value not in present)
            overlap = max(a.at for a in old) >= min(a.at for a in new)
            gap = min(a.at for a in new) - max(a.at for a in old)
            windows = pair.write_windows(since=log_offsets)
            log_overlap = bool(overlaps(windows)) or [w.node for w in windows] != [primary, standby]
            acked = len(checker.acks)
            results.append(
                {"run": run + 1, "fault": fault, "failover_s": failover, "client_gap_s": gap, "acked": acked,
                 "lost": lost, "overlap": overlap, "log_overlap": log_overlap}
            )  # fmt: skip
            print(
                f"run {run + 1:2}: {fault:16} {primary}->{standby} failover {failover:.3f}s, client gap {gap:.3f}s, "
                f"{len(checker.acks)} acked, {lost} lost, overlap={overlap}, in the server logs={log_overlap}",
                flush=True,
            )
            if fault == "kill-9-agent":
                await pair.agents[primary].start()
            await pair.wait_ready(standby, primary, timeout=120)
            primary, standby = standby, primary
    finally:
        await pair.close()
        await nats_server.stop()
        remove_base(base)
    return results


async def heartbeat_rates(workdir: Path, seconds: float) -> dict[str, float]:
    server = EmbeddedNats(store_dir=workdir / "rates" / "js")
    await server.start()
    try:
        store = await NatsKeyValue.connect(NatsOptions(servers=[server.url], timeout=2), bucket="bench")
        nc = await nats.connect(server.url)
        kv = await nc.jetstream().create_key_value(KeyValueConfig(bucket="raw", history=64))

        async def rate(op: object) -> float:
            n, deadline = 0, time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                await op()  # type: ignore[operator]
                n += 1
            return n / seconds

        result = {
            "raw nats-py KeyValue.put": await rate(lambda: kv.put("hb.raw", b'{"node":"a","status":"serving"}')),
            "agent stamped put (publish + read stamp)": await rate(
                lambda: store.put("pg.hb.a", b'{"node":"a","status":"serving"}')
            ),
            "agent tick I/O (stamped put + state + peer reads)": await rate(lambda: _tick(store)),
        }
        await store.close()
        await nc.close()
        return result
    finally:
        await server.stop()


async def _tick(store: NatsKeyValue) -> None:
    await store.put("pg.hb.a", b'{"node":"a","status":"serving"}')
    await asyncio.gather(store.get("pg.state"), store.get("pg.hb.b"))


async def _true(value: bool) -> bool:
    return value


def report(results: list[dict[str, object]], rates: dict[str, float], seed: int) -> str:
    times = sorted(float(str(r["failover_s"])) for r in results)
    gaps = sorted(float(str(r["client_gap_s"])) for r in results)
    lost = sum(int(str(r["lost"])) for r in results)
    acked = sum(int(str(r["acked"])) for r in results)
    overlapping = sum(1 for r in results if r["overlap"])
    log_overlapping = sum(1 for r in results if r["log_overlap"])
    faults = {f: sum(1 for r in results if r["fault"] == f) for f in ("kill-9-postgres", "kill-9-agent")}
    t = FAST
    raw = rates["raw nats-py KeyValue.put"]

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    ceiling = (t.failover_timeout + t.heartbeat_interval) / t.failover_timeout
    record(
        "failover",
        "median failover / failover_timeout",
        statistics.median(times) / t.failover_timeout,
        "x",
        target=ceiling,
    )
    record("failover", "acknowledged writes lost", lost, "writes", target=0)
    lines = [
        f"_Measured {date.today()} on this project's 2-core machine (shared with other work), {len(results)} "
        f"randomized faults on one pair (seed {seed}: {faults['kill-9-postgres']} kill -9 postgres, "
        f"{faults['kill-9-agent']} kill -9 agent), timing heartbeat_interval {t.heartbeat_interval}s, "
        f"heartbeat_timeout {t.heartbeat_timeout}s, failure_threshold {t.failure_threshold}, failover_timeout "
        f"{t.failover_timeout}s. Rerun: `.venv/bin/python bench/failover_bench.py`._",
        "",
        "| failover (store stamps: promotion − last serving heartbeat) | value | vs failover_timeout |",
        "|---|---:|---:|",
        f"| design floor (failover_timeout) | {t.failover_timeout:.3f} s | 1.00× |",
        f"| design ceiling (failover_timeout + one heartbeat interval) | "
        f"{t.failover_timeout + t.heartbeat_interval:.3f} s | "
        f"{(t.failover_timeout + t.heartbeat_interval) / t.failover_timeout:.2f}× |",
        f"| min | {times[0]:.3f} s | {times[0] / t.failover_timeout:.2f}× |",
        f"| median | {statistics.median(times):.3f} s | {statistics.median(times) / t.failover_timeout:.2f}× |",
        f"| p90 | {pct(times, 0.9):.3f} s | {pct(times, 0.9) / t.failover_timeout:.2f}× |",
        f"| max | {times[-1]:.3f} s | {times[-1] / t.failover_timeout:.2f}× |",
        f"| runs within the ceiling | {sum(1 for x in times if x <= t.failover_timeout + t.heartbeat_interval)}"
        f"/{len(times)} | |",
        f"| client-seen write gap, median / max | {statistics.median(gaps):.3f} s / {gaps[-1]:.3f} s | |",
        f"| acknowledged writes lost | {lost} of {acked} | |",
        f"| runs where both nodes acknowledged writes at overlapping times | {overlapping} | |",
        f"| runs where both servers' logs show committed writes at overlapping times | {log_overlapping} | |",
        "",
        "| heartbeat I/O on one nats-server, same run | per second | vs raw put |",
        "|---|---:|---:|",
        *(f"| {name} | {value:,.0f} | {value / raw:.2f}× |" for name, value in rates.items()),
    ]
    return "\n".join(lines)


def write_docs(table: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    section = f"{START}\n{table}\n{END}"
    if START in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text += f"\n## Agent failover: time to promote and heartbeat cost\n\n{section}\n"
    DOCS.write_text(text)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate-seconds", type=float, default=3.0)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hm-failover-bench-") as tmp:
        work = Path(tmp)
        rates = await heartbeat_rates(work, args.rate_seconds)
        results = await failovers(args.runs, random.Random(args.seed), work)
    table = report(results, rates, args.seed)
    print(table)
    if not args.no_docs:
        write_docs(table)


if __name__ == "__main__":
    asyncio.run(main())
