"""mypy's cache never changes what ``harmony check`` reports: a warm or shared cache gives the errors a fresh
one gives, each at the file it is in.

The scenario that broke it, reproduced for real: mypy 2 caches a module's errors with the path of the file it
checked and replays them when the module is fresh. Two copies of one deployment (two checkouts of a repository)
checked on one cache: the second copy's errors came back under the first copy's paths, so a caller that maps
errors to its files (the check set, an editor, CI annotations) saw none.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from harmony.cli.typecheck import _KEPT, Diagnostic, _evict, mypy_cache_dir, run_mypy  # pyright: ignore[reportPrivateUsage]  # eviction is tested alone: filling 17 real caches would take minutes

MISTAKEN = """\
from pathlib import Path, PurePosixPath

from harmony import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(
    topology=LinuxHost.local(root=Path("/tmp/never-applied")),
    scores=[ManagedFile(path=PurePosixPath("/etc/motd"), content=42)],
)
"""
LINE = 9


def _copy(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "site_deploy.py").write_text(MISTAKEN)
    return root / "site_deploy.py"


def _where(diagnostics: list[Diagnostic]) -> set[tuple[Path, int]]:
    return {(Path(d.file).resolve(), d.line) for d in diagnostics}


@pytest.mark.slow
def test_a_cache_shared_by_two_copies_of_a_deployment_reports_each_copys_errors_at_its_own_path(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    first, second = _copy(tmp_path / "checkout-a"), _copy(tmp_path / "checkout-b")
    assert _where(run_mypy([first], extra_paths=[first.parent], cache_dir=cache)) == {(first.resolve(), LINE)}
    # Before the fix: the error came back as checkout-a's, and checkout-b had none of its own.
    assert _where(run_mypy([second], extra_paths=[second.parent], cache_dir=cache)) == {(second.resolve(), LINE)}
    # and the first copy, on the cache the second one rebuilt, still gets its own
    assert _where(run_mypy([first], extra_paths=[first.parent], cache_dir=cache)) == {(first.resolve(), LINE)}


@pytest.mark.slow
def test_a_deployment_moved_after_a_check_is_reported_where_it_is_now(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = _copy(tmp_path / "before")
    assert _where(run_mypy([old], extra_paths=[old.parent], cache_dir=cache)) == {(old.resolve(), LINE)}
    (tmp_path / "before").rename(tmp_path / "after")
    new = tmp_path / "after" / old.name
    # Before the fix: reported in before/, which no longer exists.
    assert _where(run_mypy([new], extra_paths=[new.parent], cache_dir=cache)) == {(new.resolve(), LINE)}


@pytest.mark.slow
def test_two_checks_at_once_on_one_cache_both_report_the_error(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, second = _copy(tmp_path / "checkout-a"), _copy(tmp_path / "checkout-b")
    results: dict[Path, set[tuple[Path, int]]] = {}

    def check(path: Path) -> None:
        results[path] = _where(run_mypy([path], extra_paths=[path.parent], cache_dir=cache))

    threads = [threading.Thread(target=check, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {first: {(first.resolve(), LINE)}, second: {(second.resolve(), LINE)}}


def test_each_deployment_copy_of_harmony_and_configuration_has_its_own_cache(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "deploy.py", tmp_path / "b" / "deploy.py"
    assert mypy_cache_dir([a], [a.parent]) == mypy_cache_dir([a], [a.parent])
    assert mypy_cache_dir([a], [a.parent]) != mypy_cache_dir([b], [b.parent])
    assert mypy_cache_dir([a], [a.parent]) != mypy_cache_dir([a], [])


def test_only_the_most_recently_used_caches_are_kept_and_none_in_use_is_deleted(tmp_path: Path) -> None:
    caches = [tmp_path / f"mypy-3.12-{i:02}" for i in range(_KEPT + 4)]
    for age, cache in enumerate(caches):
        (cache / "3.12").mkdir(parents=True)
        os.utime(cache, (1_000_000 - age, 1_000_000 - age))  # caches[0] the most recently used
    in_use = caches[-1]
    with (tmp_path / f"{in_use.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _evict(keep=caches[0])
    assert sorted(p for p in tmp_path.iterdir() if p.is_dir()) == [*caches[: _KEPT + 1], in_use]
