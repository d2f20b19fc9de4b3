"""What resolving a deployment's settings costs, per source, against the raw access underneath it.

    .venv/bin/python bench/config_bench.py [--settings 20] [--repeat 20]

A config model of N settings (half of them secrets) is resolved with ``Resolver.resolve`` from three sources:
- the environment (``HARMONY_CONFIG_…``), against reading the same variables from ``os.environ``;
- the embedded store (SQLite + AES-GCM), against a bare SQLite ``SELECT`` + decrypt per key;
- OpenBao kv-v2 (a dev server started here, token auth), against bare ``hvac`` reads of the same paths,
  and against the ``bao kv get`` command a shell script would run per key.
Each figure is the median of ``--repeat`` runs; the ratio is Harmony over the raw access it wraps.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import hvac
import requests
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import create_model

from harmony.config import ConfigModel, Namespace, Resolver, Secret
from harmony.config.sources import EnvSource, StoreSource, env_var
from harmony.infra.embedded_store import EmbeddedStore
from harmony.infra.openbao import OpenBaoStore, TokenAuth

BIN = Path(sys.executable).parent
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- config-bench:start -->", "<!-- config-bench:end -->"
NS = Namespace("bench", "default")


def model(n: int) -> type[ConfigModel]:
    fields: dict[str, object] = {}
    for i in range(n):
        fields[f"s{i}"] = (Secret, ...) if i % 2 else (str, ...)
    built: type[ConfigModel] = create_model("BenchSettings", __base__=ConfigModel, **fields)  # type: ignore[call-overload]  # fields built at run time
    return built


def values(n: int) -> dict[str, str]:
    return {f"s{i}": f"value-{i}-{secrets.token_hex(8)}" for i in range(n)}


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: imports, connections, pydantic schema build
    runs: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1000


def start_bao(home: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "bench-" + secrets.token_hex(8)
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(BIN / "bao"), "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}", f"-dev-root-token-id={token}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/v1/sys/health", timeout=1).status_code == 200:
                return proc, url, token
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("bao did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    n, repeat = args.settings, args.repeat
    settings_model, vals = model(n), values(n)
    rows: list[tuple[str, float, str, float]] = []

    env = {env_var(k): v for k, v in vals.items()}
    rows.append(
        (
            "environment",
            median_ms(lambda: Resolver(NS, [EnvSource(env)]).resolve(settings_model), repeat),
            "`os.environ` lookups",
            median_ms(lambda: [env[env_var(k)] for k in vals], repeat),
        )
    )

    with tempfile.TemporaryDirectory(prefix="harmony-config-bench-") as tmp:
        store = EmbeddedStore(Path(tmp) / "config.sqlite3", Path(tmp) / "keys" / "config.key")
        for i, (k, v) in enumerate(vals.items()):
            store.put(NS, k, Secret(v) if i % 2 else v)
        store.close()
        key = (Path(tmp) / "keys" / "config.key").read_bytes()

        def harmony_store() -> object:
            s = EmbeddedStore(Path(tmp) / "config.sqlite3", Path(tmp) / "keys" / "config.key")
            try:
                return Resolver(NS, [StoreSource(s, how_to_set="")]).resolve(settings_model)
            finally:
                s.close()

        def raw_store() -> object:
            with sqlite3.connect(Path(tmp) / "config.sqlite3") as db:
                out = []
                for k in vals:
                    secret, blob = db.execute(
                        "SELECT secret, value FROM entries WHERE namespace = ? AND key = ?", (str(NS), k)
                    ).fetchone()
                    aad = f"{NS}\0{k}".encode()
                    out.append(AESGCM(key).decrypt(blob[:12], blob[12:], aad) if secret else blob)
            return out

        rows.append(
            (
                "embedded store",
                median_ms(harmony_store, repeat),
                "SQLite + AES-GCM per key",
                median_ms(raw_store, repeat),
            )
        )

        proc, url, token = start_bao(Path(tmp))
        try:
            bao = OpenBaoStore(url, auth=TokenAuth(Secret(token)))
            for i, (k, v) in enumerate(vals.items()):
                bao.put(NS, k, Secret(v) if i % 2 else v)
            client = hvac.Client(url=url, token=token)
            paths = [bao.path_of(NS, k) for k in vals]

            def harmony_bao() -> object:
                fresh = OpenBaoStore(url, auth=TokenAuth(Secret(token)))
                return Resolver(NS, [StoreSource(fresh, how_to_set="")]).resolve(settings_model)

            def raw_hvac() -> object:
                return [client.secrets.kv.v2.read_secret_version(path=p, raise_on_deleted_version=True) for p in paths]

            def bao_cli() -> object:
                cli_env = {"PATH": os.environ["PATH"], "BAO_ADDR": url, "BAO_TOKEN": token, "HOME": tmp}
                for p in paths:
                    subprocess.run(
                        [str(BIN / "bao"), "kv", "get", "-format=json", f"secret/{p}"],
                        env=cli_env,
                        capture_output=True,
                        check=True,
                    )
                return None

            harmony_ms = median_ms(harmony_bao, repeat)
            rows.append(("OpenBao kv-v2", harmony_ms, "`hvac` reads", median_ms(raw_hvac, repeat)))
            rows.append(("OpenBao kv-v2", harmony_ms, "`bao kv get` per key", median_ms(bao_cli, max(3, repeat // 5))))
        finally:
            proc.terminate()
            proc.wait(10)

    header = "| source | Harmony resolve | raw access | raw | Harmony / raw |\n|---|---:|---|---:|---:|\n"
    body = "".join(f"| {s} | {h:.2f} ms | {what} | {r:.2f} ms | {h / r:.2g}× |\n" for s, h, what, r in rows)
    table = header + body
    print(table)
    section = (
        f"{START}\n_Measured {date.today()} on this project's shared 2-core machine: resolving a model of {n} "
        f"settings (half secrets), median of {repeat} runs (the `bao` CLI row: {max(3, repeat // 5)}). "
        f"Rerun: `.venv/bin/python bench/config_bench.py`._\n\n{table}{END}"
    )
    text = DOC.read_text()
    if START in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Configuration and secrets: resolving settings\n\n" + section + "\n"
    DOC.write_text(text)


if __name__ == "__main__":
    main()
