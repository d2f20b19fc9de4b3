"""File operations as POSIX shell programs, for hosts reached through a shell (SSH).

Only ``sh`` and coreutils are assumed on the host (Debian's essential set), no Python. Each function
returns an ``argv`` to run and, for reads, a pure parser of its output, tested as tables without a host.
Writes go to a temporary file in the target's own directory and are renamed over the target, so a reader
sees the old file or the new one, never a part; a failure removes the temporary file.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Sequence
from pathlib import PurePosixPath

from harmony.domain.capabilities.commands import CommandResult
from harmony.domain.capabilities.files import FileKind, FileState
from harmony.infra.connector import (
    BatchRead,
    BatchResult,
    CommandRead,
    DirectoryState,
    PidState,
    ReadKind,
    ReadRequest,
)
from harmony.infra.programs import PKILL, SETPRIV, SH

type StatRequest = tuple[PurePosixPath, bool]  # (path, with content)

# Command reads ("x", or "t<seconds>" under `timeout`: a shell line each) all start at once, with no stdin,
# before the file reads; each answers with its status and base64 stdout and stderr on its line, in request
# order: out|STATUS|OUT|ERR. `timeout` puts its command in a process group of its own, out of reach of the
# guard's kill (a cancelled batch): it is told by its parent's death (pdeathsig), and passes the TERM on.
# Every process the script starts is a cost paid per host and run (a no-op over SSH is mostly this script), so
# it uses the shell's builtins wherever they do: a command line runs by `eval` in its background subshell
# (not a new `sh -c`), statuses, pid files and /proc/PID/stat are read with `read`, an empty output is not
# piped through base64, and a directory's file names made of safe characters are sent as they are (`=NAME`).
# The metadata of every file read comes from one `stat` run on all that exist (a `stat` per file was a third of
# a no-op's processes); which ones exist is decided once, beforehand, in $F (a character per request: 1 to
# stat, 0 missing, - not a file read), and the answers follow those decisions, so a file created or removed
# meanwhile cannot shift the lines. Should that `stat` fail (a file removed in between), each file is read on
# its own, as it is then.
_READ = r"""
d=""
i=0
F=""
for a in "$@"; do
  m=${a%%:*}; p=${a#*:}
  case $m in
  s|c) if [ -L "$p" ] || [ -e "$p" ]; then F="${F}1"; else F="${F}0"; fi ;;
  *) F="${F}-" ;;
  esac
done
stat_all() {
  g=$1; shift; q=""; j=0
  for a do
    j=$((j+1))
    case $g in 1*) q="$q \"\${$j#*:}\"" ;; esac
    g=${g#?}
  done
  [ -z "$q" ] || eval "stat --printf '%F|%a|%U|%G|\n' -- $q"
}
S=""; one=""; nl='
'
case $F in *1*) S=$(stat_all "$F" "$@" 2>/dev/null) || one=1 ;; esac
for a in "$@"; do
  i=$((i+1)); m=${a%%:*}; p=${a#*:}
  case $m in
  x|t*)
    if [ -z "$d" ]; then d=$(mktemp -d) || exit 1; trap 'rm -rf -- "$d"' EXIT; fi
    if [ "$m" = x ]; then
      { eval "$p" </dev/null >"$d/$i.o" 2>"$d/$i.e"; echo $? >"$d/$i.s"; } &
    else
      { setpriv --pdeathsig TERM -- timeout -k 5 "${m#t}" sh -c "$p" </dev/null >"$d/$i.o" 2>"$d/$i.e"
        echo $? >"$d/$i.s"; } &
    fi
    ;;
  esac
done
wait
i=0
for a in "$@"; do
  i=$((i+1)); m=${a%%:*}; p=${a#*:}
  case $F in 1*) g=1 ;; *) g="" ;; esac
  F=${F#?}
  case $m in
  x|t*)
    s=""; o=""; e=""
    read -r s <"$d/$i.s" || :
    if [ -s "$d/$i.o" ]; then o=$(base64 -w0 -- "$d/$i.o"); fi
    if [ -s "$d/$i.e" ]; then e=$(base64 -w0 -- "$d/$i.e"); fi
    printf 'out|%s|%s|%s\n' "$s" "$o" "$e"
    ;;
  p)
    pid=""; st=""
    if [ -f "$p" ] && [ -r "$p" ]; then read -r pid <"$p" || :; fi
    case $pid in ''|*[!0-9]*) pid="" ;; esac
    if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
      { read -r st <"/proc/$pid/stat" || :; } 2>/dev/null
      st=${st##*) }; st=${st%"${st#?}"}
    fi
    if [ -n "$st" ] && [ "$st" != Z ]; then echo "pid $pid"; else echo "pid -"; fi
    ;;
  d)
    if [ -d "$p" ] && [ ! -L "$p" ]; then
      printf dir
      for f in "$p"/*; do
        if [ -f "$f" ] && [ ! -L "$f" ]; then
          n=${f##*/}
          case $n in
          *[!A-Za-z0-9._+@-]*) n=$(printf %s "$n" | base64 -w0) ;;
          *) n="=$n" ;;
          esac
          c=""; if [ -s "$f" ]; then c=$(base64 -w0 -- "$f"); fi
          printf ' %s:%s' "$n" "$c"
        fi
      done
      echo
    else
      echo missing
    fi
    ;;
  *)
    l=""
    if [ -n "$one" ]; then
      if [ -L "$p" ] || [ -e "$p" ]; then stat --printf '%F|%a|%U|%G|' -- "$p"; l=1; fi
    elif [ "$g" = 1 ]; then
      printf %s "${S%%"$nl"*}"; S=${S#*"$nl"}; l=1
    fi
    if [ -n "$l" ]; then
      if [ -L "$p" ]; then readlink -n -- "$p" | base64 -w0
      elif [ "$m" = c ] && [ -f "$p" ] && [ -s "$p" ]; then base64 -w0 -- "$p"
      fi
      echo
    else
      echo missing
    fi
    ;;
  esac
done
"""

_WRITE = r"""
set -e
p=$1; d=$2; n=$3; mode=$4; owner=$5
t=$(mktemp "$d/.$n.harmony-XXXXXX")
trap 'rm -f -- "$t"' EXIT
cat > "$t"
if [ -n "$mode" ]; then chmod "$mode" -- "$t"
elif [ -e "$p" ]; then chmod --reference="$p" -- "$t"
else chmod 644 -- "$t"
fi
if [ -n "$owner" ]; then chown -- "$owner" "$t"; fi
mv -f -- "$t" "$p"
trap - EXIT
"""

_MKDIR = r"""
set -e
p=$1; mode=$2; owner=$3
[ -d "$p" ] || mkdir -- "$p"
if [ -n "$mode" ]; then chmod "$mode" -- "$p"; fi
if [ -n "$owner" ]; then chown -- "$owner" "$p"; fi
"""

_SYMLINK = r"""
set -e
p=$1; d=$2; n=$3; target=$4
t="$d/.$n.harmony-link-$$"
ln -sfn -- "$target" "$t"
mv -fT -- "$t" "$p"
"""

_REMOVE = r"""
p=$1
if [ -d "$p" ] && [ ! -L "$p" ]; then rmdir -- "$p"; else rm -f -- "$p"; fi
"""

_KINDS: dict[str, FileKind] = {
    "regular file": "file",
    "regular empty file": "file",
    "directory": "directory",
    "symbolic link": "symlink",
}


# The same guard as for local programs (local_process): it keeps stdin for the program and returns its status,
# and a TERM kills its whole process group (sshd made the session a group of its own). The TERM comes from
# ``stop_guarded_argv`` (a cancelled or timed-out command), or from the kernel when the guard's parent, sshd's
# session process, dies (the connection dropped: harmony was killed).
_GUARD = 'trap "kill -KILL 0" TERM; exec 3<&0; "$@" <&3 3<&- & wait $!'


def guarded_argv(argv: Sequence[str], token: str) -> list[str]:
    """``argv`` under a guard named ``harmony-guard-<token>`` (its ``$0``) that kills its group on TERM."""
    return [SETPRIV.name, "--pdeathsig", "TERM", "--", SH.name, "-c", _GUARD, f"harmony-guard-{token}", *argv]


def stop_guarded_argv(token: str) -> list[str]:
    """TERM the guard of ``guarded_argv(…, token)``; the pattern's brackets keep it from matching itself."""
    name = f"harmony-guard-{token}"
    return [PKILL.name, "-TERM", "-f", f"{name[:-1]}[{name[-1]}]"]


def _sh(script: str, *args: str) -> list[str]:
    return ["sh", "-c", script, "sh", *args]


_MODES: dict[ReadKind, str] = {"stat": "s", "content": "c", "pid": "p", "directory": "d"}


def read_argv(requests: Sequence[BatchRead]) -> list[str]:
    """One ``sh`` program answering every request, one output line each, in order."""
    return _sh(_READ, *(_read_arg(r) for r in requests))


def _read_arg(request: BatchRead) -> str:
    if isinstance(request, CommandRead):
        mode = "x" if request.timeout is None else f"t{request.timeout:g}"
        return f"{mode}:{shlex.join(request.argv)}"
    path, kind = request
    return f"{_MODES[kind]}:{path}"


# Held by a process on the host: it takes the flock, says "locked", then reads lines on its stdin until the
# channel closes (Harmony ended, or died and the connection dropped) or no line came for the expiry (twice $2)
# to 1.5 times it (Harmony's machine vanished from the network: the host may never hear the connection
# close), and the flock goes with it. A line is a heartbeat (".") or a batch of reads ("r" and its
# shell-quoted arguments, a newline in them written "$n"): the holder runs the read program ($3) on them,
# closing the flock's descriptor for it, and answers with the program's output then RS "end STATUS
# STDERR-BASE64": the run's reads share the lock's channel, no new one. Lines are read by the shell's `read`
# (a byte at a time from a pipe: never more than the line) and counted in "$f.beat"; a watchdog started once
# (without the flock's descriptor) looks every $2 seconds and ends the holder when the count stayed the same
# twice, unless a batch is being answered: no process is started per line. The file is named after
# /etc/hostname so that hosts sharing a /run (namespaces on one machine) still lock apart.
_RUN_LOCK = r"""
d=/run/lock; [ -d "$d" ] && [ -w "$d" ] || d=/tmp
h=""; { read -r h </etc/hostname || :; } 2>/dev/null
f="$d/harmony-${h:-host}.lock"
exec 9<>"$f" || exit 2
if flock -n 9; then
  printf '%s' "$1" > "$f"; echo locked
  r=$3; n='
'
  b=0; echo "$b" >"$f.beat"
  holder=$$
  (
    trap 'kill "$t" 2>/dev/null; exit 0' TERM
    last=""; same=0
    while :; do
      sleep "$2" & t=$!; wait "$t" || exit 0
      now=""; read -r now <"$f.beat" || :  # empty while the holder rewrites it: counts as a change
      if [ "$now" = busy ] || [ "$now" != "$last" ]; then same=0; else same=$((same+1)); fi
      last=$now
      if [ "$same" -ge 2 ]; then kill "$holder"; exit 0; fi
    done
  ) </dev/null >/dev/null 2>&1 9>&- &
  w=$!
  while IFS= read -r line && [ -n "$line" ]; do
    b=$((b+1)); echo "$b" >"$f.beat"
    case $line in
    r*)
      echo busy >"$f.beat"
      ( eval "set -- ${line#r}"; eval "$r" ) </dev/null 9>&- 2>"$f.err"
      s=$?; e=""
      if [ -s "$f.err" ]; then e=$(base64 -w0 -- "$f.err"); fi
      echo "$b" >"$f.beat"
      printf '\036end %s %s\n' "$s" "$e"
      ;;
    esac
  done
  kill "$w" 2>/dev/null
  exit 0
fi
echo busy; cat "$f"; exit 75
"""

READ_END = "\x1eend "
"""What starts the line ending a batch of reads answered by the run lock's holder (``run_lock_argv``)."""


def run_lock_argv(holder: str, *, expiry: float) -> list[str]:
    """Take the host's run lock (``holder`` is written into it) and hold it while stdin stays open and a line
    arrives on it at least every ``expiry`` seconds (it goes after ``expiry`` to 1.5 times ``expiry`` seconds
    of silence); a line ``read_request(…)`` is answered as a batch of reads.

    Prints ``locked`` and holds, or ``busy`` plus the current holder's record and exits 75."""
    return _sh(_RUN_LOCK, holder, f"{expiry / 2:g}", _READ)


def read_request(requests: Sequence[BatchRead]) -> bytes:
    """The line asking the run lock's holder for ``read_argv(requests)``'s answer."""
    quoted = " ".join('"$n"'.join(shlex.quote(part) for part in _read_arg(r).split("\n")) for r in requests)
    return b"r" + quoted.encode() + b"\n"


def parse_read_answer(answer: str) -> tuple[str, int, str]:
    """The output, status and stderr of a batch answered by the run lock's holder (``answer`` ends with its
    ``READ_END`` line); ``ValueError`` when it is not one."""
    output, marker, tail = answer.rpartition(READ_END)
    fields = tail.split()
    if not marker or not fields or not fields[0].isdigit():
        raise ValueError(f"not an answer to a batch of reads: {answer[-80:]!r}")
    err = base64.b64decode(fields[1]).decode(errors="replace") if len(fields) > 1 else ""
    return output, int(fields[0]), err


def stat_argv(requests: Sequence[StatRequest]) -> list[str]:
    return read_argv([(path, "content" if content else "stat") for path, content in requests])


def parse_stat(requests: Sequence[StatRequest], output: str) -> dict[StatRequest, FileState]:
    """One output line per request, in order: ``missing``, or ``KIND|MODE|OWNER|GROUP|BASE64``."""
    reads: list[ReadRequest] = [(path, "content" if content else "stat") for path, content in requests]
    found = parse_reads(reads, output)  # file reads only: every result is a FileState
    states: dict[StatRequest, FileState] = {}
    for request, read in zip(requests, reads, strict=True):
        state = found[read]
        assert isinstance(state, FileState)
        states[request] = state
    return states


def parse_reads(requests: Sequence[BatchRead], output: str) -> dict[BatchRead, BatchResult]:
    """The results of ``read_argv(requests)``; ``ValueError`` when the output is not its shape."""
    lines = output.splitlines()
    if len(lines) != len(requests):
        raise ValueError(f"expected {len(requests)} lines of read output, got {len(lines)}")
    results: dict[BatchRead, BatchResult] = {}
    for request, line in zip(requests, lines, strict=True):
        if isinstance(request, CommandRead):
            results[request] = _parse_command(request, line)
        else:
            results[request] = _parse_line(*request, line)
    return results


def _parse_command(request: CommandRead, line: str) -> CommandResult:
    parts = line.split("|")
    if len(parts) != 4 or parts[0] != "out" or not parts[1].isdigit():
        raise ValueError(f"not a command's result: {line[:80]!r}")
    _, status, out, err = parts
    return CommandResult(
        argv=request.argv,
        exit_status=int(status),
        stdout=base64.b64decode(out).decode(errors="replace"),
        stderr=base64.b64decode(err).decode(errors="replace"),
    )


def _parse_line(path: PurePosixPath, kind: ReadKind, line: str) -> FileState | PidState | DirectoryState:
    if kind == "pid":
        value = line.removeprefix("pid ")
        return PidState(pid=int(value) if value.isdigit() else None)
    if kind == "directory":
        if line == "missing":
            return DirectoryState(files=None)
        entries = line.removeprefix("dir").split()
        files: dict[str, bytes] = {}
        for entry in entries:
            name, _, data = entry.partition(":")
            plain = name.removeprefix("=") if name.startswith("=") else None  # a safe name, sent as it is
            text = plain if plain is not None else base64.b64decode(name).decode(errors="surrogateescape")
            files[text] = base64.b64decode(data)
        return DirectoryState(files=files)
    if line == "missing":
        return FileState(path=path, kind="missing")
    kind_text, mode, owner, group, data = line.rsplit("|", 4)
    file_kind = _KINDS.get(kind_text, "other")
    raw = base64.b64decode(data) if data else None
    return FileState(
        path=path,
        kind=file_kind,
        mode=int(mode, 8),
        owner=owner,
        group=group,
        content=(raw or b"") if file_kind == "file" and kind == "content" else None,
        link_target=raw.decode(errors="replace") if file_kind == "symlink" and raw is not None else None,
    )


def _owner(owner: str | None, group: str | None) -> str:
    if owner and group:
        return f"{owner}:{group}"
    return owner or (f":{group}" if group else "")


def _mode(mode: int | None) -> str:
    return "" if mode is None else format(mode, "o")


def write_argv(path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None) -> list[str]:
    """Content comes on stdin."""
    return _sh(_WRITE, str(path), str(path.parent), path.name, _mode(mode), _owner(owner, group))


def mkdir_argv(path: PurePosixPath, *, mode: int | None, owner: str | None, group: str | None) -> list[str]:
    return _sh(_MKDIR, str(path), _mode(mode), _owner(owner, group))


def symlink_argv(path: PurePosixPath, target: str) -> list[str]:
    return _sh(_SYMLINK, str(path), str(path.parent), path.name, target)


def remove_argv(path: PurePosixPath) -> list[str]:
    return _sh(_REMOVE, str(path))
