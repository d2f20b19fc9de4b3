"""A new deployment's mypy cache starts from a base of Harmony's own types (``harmony.cli.mypy_base``), and that
never changes what ``harmony check`` reports: the base holds no module of a deployment, so mypy cannot replay a
deployment's errors from it under another copy's path (the anomaly ``test_mypy_cache`` pins)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harmony.cli import mypy_base
from harmony.cli.typecheck import run_mypy
from tests.typecheck.test_mypy_cache import LINE, MISTAKEN


def _rows(cache: Path) -> dict[str, float]:
    rows: dict[str, float] = {}
    for db in cache.glob("3.*/cache*.db"):
        with sqlite3.connect(db) as conn:
            rows.update({path: mtime for path, mtime in conn.execute("SELECT path, mtime FROM files2")})
        conn.close()
    return rows


def _tops(rows: dict[str, float]) -> set[str]:
    return {p.split("/")[0].split(".")[0] for p in rows if not p.startswith("@")}


def _checkout(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "site_deploy.py").write_text(MISTAKEN)
    return root / "site_deploy.py"


@pytest.mark.slow
def test_a_second_checkout_seeded_from_the_base_reports_its_own_error_at_its_own_path(tmp_path: Path) -> None:
    base = tmp_path / "base"
    first, second = _checkout(tmp_path / "checkout-a"), _checkout(tmp_path / "checkout-b")
    found = run_mypy([first], extra_paths=[first.parent], cache_dir=tmp_path / "cache-a", base_dir=base)
    assert {(Path(d.file).resolve(), d.line) for d in found} == {(first.resolve(), LINE)}

    seeded = _rows(base)
    assert "harmony" in _tops(seeded) and "builtins" in _tops(seeded)
    assert "site_deploy" not in _tops(seeded), "the base holds a deployment's module"

    found = run_mypy([second], extra_paths=[second.parent], cache_dir=tmp_path / "cache-b", base_dir=base)
    assert {(Path(d.file).resolve(), d.line) for d in found} == {(second.resolve(), LINE)}
    after = _rows(tmp_path / "cache-b")
    # Harmony's modules came from the base and were fresh (mypy did not write them again): the seed was used
    assert after["harmony/__init__.meta.ff"] == seeded["harmony/__init__.meta.ff"]


def _fake_base(root: Path, paths: list[str]) -> Path:
    (root / "3.12").mkdir(parents=True)
    with sqlite3.connect(root / "3.12" / "cache.0.db") as conn:
        conn.execute("CREATE TABLE files2 (path TEXT UNIQUE NOT NULL, mtime REAL, data BLOB)")
        conn.executemany("INSERT INTO files2 VALUES (?, 1.0, x'00')", [(p,) for p in paths])
    conn.close()
    return root


def test_a_deployment_that_could_shadow_a_module_does_not_get_it_from_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mypy_base, "_PY", "3.12")  # the fake base's layout, whatever runs the test
    base = _fake_base(tmp_path / "base", ["harmony/__init__.meta.ff", "json/__init__.meta.ff", "@plugins.json"])
    deployment = tmp_path / "deploy"
    deployment.mkdir()
    (deployment / "json.py").write_text("")  # `import json` from the deployment would be this file
    (deployment / "site.py").write_text("")
    shadowed = mypy_base.shadowed_names([deployment / "site.py"], [deployment])
    assert {"json", "site", "deploy"} <= shadowed

    cache = tmp_path / "cache"
    cache.mkdir()
    assert mypy_base.is_empty(cache)
    assert mypy_base.seed(cache, base, shadowed=shadowed)
    assert set(_rows(cache)) == {"harmony/__init__.meta.ff", "@plugins.json"}


def test_a_base_is_built_only_from_modules_no_deployment_defines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mypy_base, "_PY", "3.12")
    harmony = Path(mypy_base.__file__).resolve().parents[1]
    cache = _fake_base(
        tmp_path / "cache",
        ["harmony/cli/check.meta.ff", "builtins.data.ff", "pydantic/main.meta.ff", "site_deploy.meta.ff", "os.meta.ff"],
    )
    base = tmp_path / "base"
    mypy_base.build(cache, base, shadowed={"os"}, harmony=harmony)
    assert set(_rows(base)) == {"harmony/cli/check.meta.ff", "builtins.data.ff", "pydantic/main.meta.ff"}
    # built once: a later check does not replace it
    mypy_base.build(_fake_base(tmp_path / "other", ["harmony/x.meta.ff"]), base, shadowed=set(), harmony=harmony)
    assert "harmony/x.meta.ff" not in _rows(base)


def test_a_cache_in_a_layout_the_base_cannot_filter_is_never_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mypy_base, "_PY", "3.12")
    cache = tmp_path / "cache"
    (cache / "3.12" / "site_deploy").mkdir(parents=True)  # mypy's file-per-module layout
    (cache / "3.12" / "site_deploy.meta.json").write_text("{}")
    mypy_base.build(cache, tmp_path / "base", shadowed=set(), harmony=Path(mypy_base.__file__).parents[1])
    assert not (tmp_path / "base").exists()
