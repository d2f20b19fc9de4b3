"""The guard that commands run under on SSH hosts, run here with the real ``sh``, ``setpriv`` and ``pkill``."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.capabilities.files import FileState
from harmony.infra.connector import BatchRead, CommandRead, DirectoryState, PidState
from harmony.infra.posix_shell import guarded_argv, parse_reads, read_argv, stop_guarded_argv


def test_the_guard_passes_stdin_and_the_exit_status_through() -> None:
    done = subprocess.run(
        guarded_argv(["sh", "-c", "cat; exit 7"], "t0ken"), input=b"kept\n", capture_output=True, check=False
    )
    assert (done.returncode, done.stdout) == (7, b"kept\n")


def test_the_stop_pattern_matches_the_guard_and_not_the_stop_command_itself() -> None:
    guard = " ".join(guarded_argv(["sleep", "1"], "ab12"))
    stop = stop_guarded_argv("ab12")
    pattern = re.compile(stop[-1])
    assert pattern.search(guard) and not pattern.search(" ".join(stop))
    assert not pattern.search(" ".join(guarded_argv(["sleep", "1"], "ab13")))


def living_in_group(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (killed ones wait to be reaped by their new parent)."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_stopping_the_guard_kills_its_whole_group() -> None:
    proc = subprocess.Popen(
        guarded_argv(["sh", "-c", "sleep 600 & sleep 600; echo finished"], "unit-stop"),
        stdout=subprocess.PIPE,
        start_new_session=True,  # a group of its own, as sshd gives a session
    )
    try:
        while len(living_in_group(proc.pid)) < 4:
            pass  # guard, sh, two sleeps
        subprocess.run(stop_guarded_argv("unit-stop"), check=True)
        out, _ = proc.communicate(timeout=30)
        assert out == b""
        assert living_in_group(proc.pid) == [], "every process of the group was killed"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_one_read_program_answers_file_and_command_reads_in_order(tmp_path: Path) -> None:
    """The read program run on this machine's sh: each kind of request gets its own line, parsed back."""
    conf = tmp_path / "a.conf"
    conf.write_bytes(b"x = 1\n")
    two_lines = CommandRead(("sh", "-c", "printf 'two\\nlines'; echo warn >&2; exit 4"))
    quoted = CommandRead(("echo", "it's a b"), timeout=5)
    requests: list[BatchRead] = [
        (PurePosixPath(conf), "content"),
        two_lines,
        (PurePosixPath(tmp_path / "no"), "stat"),
        quoted,
    ]
    out = subprocess.run(read_argv(requests), capture_output=True, text=True, check=True).stdout
    found = parse_reads(requests, out)
    file_state, missing = found[requests[0]], found[requests[2]]
    assert isinstance(file_state, FileState) and file_state.content == b"x = 1\n"
    assert isinstance(missing, FileState) and missing.kind == "missing"
    assert found[two_lines] == CommandResult(argv=two_lines.argv, exit_status=4, stdout="two\nlines", stderr="warn\n")
    assert found[quoted] == CommandResult(argv=quoted.argv, exit_status=0, stdout="it's a b\n", stderr="")


def test_a_command_read_line_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a command's result"):
        parse_reads([CommandRead(("true",))], "missing\n")


def test_stopping_a_read_batch_stops_its_commands_with_a_timeout_too() -> None:
    """`timeout` moves its command to a group of its own; the batch's stop must still reach it."""
    marker = f"hm-read-{os.getpid()}"
    batch = read_argv([CommandRead(("sh", "-c", f"sleep 600; : {marker}"), timeout=300), CommandRead(("sleep", "601"))])
    proc = subprocess.Popen(guarded_argv(batch, "unit-read"), stdout=subprocess.PIPE, start_new_session=True)
    try:
        while not running(marker):
            time.sleep(0.05)
        subprocess.run(stop_guarded_argv("unit-read"), check=True)
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while running(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(marker), "the timed command outlived its stopped batch"
        assert living_in_group(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run(["pkill", "-f", marker], check=False)


def running(marker: str) -> bool:
    return subprocess.run(["pgrep", "-f", f"sleep 600; : {marker}"], capture_output=True).returncode == 0


def test_pid_and_directory_reads_are_answered_by_the_shell_itself(tmp_path: Path) -> None:
    """Pid files (live, dead, garbage, without a newline, missing) and a directory's files (safe names sent as they
    are, others in base64; empty files; a symlink and a subdirectory skipped) read by the program on this sh."""
    live, dead, garbage, bare = (tmp_path / n for n in ("live.pid", "dead.pid", "garbage.pid", "bare.pid"))
    live.write_text(f"{os.getpid()}\n")
    dead.write_text(f"{_dead_pid()}\n")
    garbage.write_text("12ab\n")
    bare.write_text(str(os.getpid()))
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "a.conf").write_bytes(b"x = 1\n")
    (conf / "we ird:name").write_bytes(b"\x00\xff")
    (conf / "empty").write_bytes(b"")
    (conf / "sub").mkdir()
    (conf / "link").symlink_to(conf / "a.conf")
    pids: list[BatchRead] = [(PurePosixPath(p), "pid") for p in (live, dead, garbage, bare, tmp_path / "none.pid")]
    directory: BatchRead = (PurePosixPath(conf), "directory")
    requests = [*pids, directory, (PurePosixPath(tmp_path / "no.d"), "directory")]
    out = subprocess.run(read_argv(requests), capture_output=True, text=True, check=True).stdout
    found = parse_reads(requests, out)
    assert [found[r] for r in pids] == [
        PidState(pid=os.getpid()), PidState(pid=None), PidState(pid=None), PidState(pid=os.getpid()), PidState(pid=None)
    ]  # fmt: skip
    assert found[directory] == DirectoryState(files={"a.conf": b"x = 1\n", "we ird:name": b"\x00\xff", "empty": b""})
    assert found[requests[-1]] == DirectoryState(files=None)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _file_reads(tmp_path: Path) -> tuple[list[BatchRead], dict[str, BatchRead]]:
    (tmp_path / "a.conf").write_bytes(b"x = 1\n")
    (tmp_path / "b.bin").write_bytes(b"\x00\xff")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "link").symlink_to("a.conf")
    (tmp_path / "d").mkdir()
    named: dict[str, BatchRead] = {
        "a": (PurePosixPath(tmp_path / "a.conf"), "content"),
        "b": (PurePosixPath(tmp_path / "b.bin"), "content"),
        "empty": (PurePosixPath(tmp_path / "empty"), "content"),
        "a-stat": (PurePosixPath(tmp_path / "a.conf"), "stat"),
        "link": (PurePosixPath(tmp_path / "link"), "content"),
        "dir": (PurePosixPath(tmp_path / "d"), "stat"),
        "missing": (PurePosixPath(tmp_path / "none"), "content"),
    }
    requests = [named["a"], CommandRead(("echo", "between")), *(named[k] for k in list(named)[1:])]
    return requests, named


def _stat_logged(tmp_path: Path, before: str = "") -> tuple[dict[str, str], Path]:
    """PATH with a ``stat`` that logs each call, runs ``before`` (shell) on the first, then execs the real one."""
    bin_dir, log = tmp_path / "bin", tmp_path / "stat.log"
    bin_dir.mkdir()
    real = subprocess.run(["sh", "-c", "command -v stat"], capture_output=True, text=True, check=True).stdout.strip()
    wrapper = bin_dir / "stat"
    first = f"if [ ! -e {log} ]; then {before}; fi\n" if before else ""
    wrapper.write_text(f'#!/bin/sh\n{first}echo "$#" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, log


def _check_file_reads(found: dict[BatchRead, object], named: dict[str, BatchRead], *, b_missing: bool) -> None:
    a, b, empty, a_stat = (found[named[k]] for k in ("a", "b", "empty", "a-stat"))
    link, directory, missing = (found[named[k]] for k in ("link", "dir", "missing"))
    assert isinstance(a, FileState) and (a.kind, a.content) == ("file", b"x = 1\n")
    b_expected = ("missing", None) if b_missing else ("file", b"\x00\xff")
    assert isinstance(b, FileState) and (b.kind, b.content) == b_expected
    assert isinstance(empty, FileState) and (empty.kind, empty.content) == ("file", b"")
    assert isinstance(a_stat, FileState) and (a_stat.kind, a_stat.content) == ("file", None)
    assert isinstance(link, FileState) and (link.kind, link.link_target) == ("symlink", "a.conf")
    assert isinstance(directory, FileState) and directory.kind == "directory"
    assert isinstance(missing, FileState) and missing.kind == "missing"
    assert isinstance(a, FileState) and a.mode is not None and a.owner and a.group


def test_every_file_of_a_batch_is_stat_ed_by_one_stat(tmp_path: Path) -> None:
    """Files, an empty one, a symlink, a directory and a missing path, around a command: one ``stat`` run for all
    that exist (a process per file was a third of a no-op's processes on an SSH host), the answers in order."""
    requests, named = _file_reads(tmp_path)
    env, log = _stat_logged(tmp_path)
    out = subprocess.run(read_argv(requests), capture_output=True, text=True, check=True, env=env).stdout
    found = parse_reads(requests, out)
    _check_file_reads(dict(found), named, b_missing=False)
    assert found[requests[1]] == CommandResult(argv=("echo", "between"), exit_status=0, stdout="between\n", stderr="")
    assert log.read_text().split() == ["9"], "one stat: --printf, its format, -- and the 6 paths that exist"


def test_a_file_removed_before_the_batch_stat_is_read_on_its_own(tmp_path: Path) -> None:
    """A file that goes between the look at which files exist and the ``stat`` of them all (removed here by that
    very ``stat``'s first call): that ``stat`` fails, and every file is then read on its own, the gone one missing."""
    requests, named = _file_reads(tmp_path)
    env, log = _stat_logged(tmp_path, before=f"rm -f {tmp_path / 'b.bin'}")
    out = subprocess.run(read_argv(requests), capture_output=True, text=True, check=True, env=env).stdout
    _check_file_reads(dict(parse_reads(requests, out)), named, b_missing=True)
    assert len(log.read_text().split()) == 1 + 5, "the failed batch, then each of the 5 files left"
