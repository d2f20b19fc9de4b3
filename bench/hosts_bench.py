"""Harmony vs pyinfra vs Ansible on the same hosts, in one run.

    .venv/bin/pip install -e '.[bench]'          # pyinfra and ansible-core, into the venv, for the bench only
    .venv/bin/python bench/hosts_bench.py        # as root: it starts its own SSH lab (network namespaces)

1. The classic 4-operation deploy per host (add a user, write a file, upload a file, run a guarded command)
   over N = 1, 5, 10, 25 SSH hosts: first run (changes) and second run (all no-op), each tool through its
   own command line, timed as a whole (start-up included).
2. 1,000 managed files on the local host: first apply and no-op re-apply.

Fairness: every tool logs in as root with the same key, checks the same host keys, and meets the same
stock shell dotfiles on the lab hosts (not this machine's ``pyenv init``); Ansible runs with forks = N,
pipelining on and fact gathering off; each (tool, N) run uses its own user and file names so its first
run really changes things. Wall-clock seconds are reported; each run also prints the CPU seconds spent on
this side (the tool and its child processes), which move less than wall-clock time on a shared machine.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from harmony.testing.ssh_lab import SshLab  # noqa: E402 - after the sys.path set-up above
from results import record  # noqa: E402 - bench/results.py, beside this script

BIN = Path(sys.executable).parent
CONTENT = "# written by the benchmark\nkey = value\n" * 4
TOOLS = ("harmony", "pyinfra", "ansible")

type Runner = Callable[[Path, str, list[str]], None]


CPU: dict[str, list[float]] = {}


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Wall-clock seconds of the whole command; its CPU seconds (with its children's) go to ``CPU``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.setdefault(Path(argv[0]).name, []).append(cpu)
    print(f"  {Path(argv[0]).name}: {elapsed:.2f}s wall, {cpu:.2f}s CPU on this side", flush=True)
    return elapsed


def env_for(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HARMONY_JOURNAL": str(work / "journal.sqlite3"),
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "ansible-cp"),
        "ANSIBLE_CONFIG": str(work / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    }


# --- the 4-operation deploy on N SSH hosts --------------------------------------------------------------


def paths(tag: str) -> tuple[str, str, str, str]:
    return (f"bu{tag}", f"/srv/bench-{tag}.conf", f"/srv/bench-{tag}.bin", f"/srv/bench-{tag}.stamp")


def harmony_hosts(work: Path, lab: SshLab, n: int, tag: str, payload: Path) -> list[str]:
    user, conf, upload, stamp = paths(tag)
    deploy = work / f"harmony_{tag}.py"
    deploy.write_text(f"""
from pathlib import Path, PurePosixPath
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import Inventory
from harmony.modules.commands import Command, sh
from harmony.modules.files import ManagedFile, UploadedFile
from harmony.modules.users import User
from harmony.topology.linux_host import LinuxHost

inventory = Inventory.model_validate_json(Path({str(lab.workdir / "inventory.json")!r}).read_text())
hosts = [LinuxHost.from_inventory(h, known_hosts=Path({str(lab.known_hosts)!r})) for h in inventory.hosts[:{n}]]
deployment = HostGroup(hosts=hosts, parallelism={n}).deploy([
    User(user={user!r}),
    ManagedFile(path=PurePosixPath({conf!r}), content={CONTENT!r}),
    UploadedFile(source=Path({str(payload)!r}), path=PurePosixPath({upload!r})),
    Command(argv=sh("touch {stamp}"), creates=PurePosixPath({stamp!r})),
])
""")
    return [str(BIN / "harmony"), "apply", str(deploy), "--yes"]


def pyinfra_hosts(work: Path, lab: SshLab, n: int, tag: str, payload: Path) -> list[str]:
    user, conf, upload, stamp = paths(tag)
    data = {
        "ssh_user": "root",
        "ssh_key": str(lab.key),
        "ssh_known_hosts_file": str(lab.known_hosts),
        "ssh_strict_host_key_checking": "yes",
    }
    inventory = work / f"pyinfra_inv_{tag}.py"
    inventory.write_text(f"hosts = {[(h.address, data) for h in lab.hosts[:n]]!r}\n")
    deploy = work / f"pyinfra_{tag}.py"
    deploy.write_text(f"""
from io import StringIO
from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.operations import files, server

server.user(name="add user", user={user!r})
files.put(name="write file", src=StringIO({CONTENT!r}), dest={conf!r})
files.put(name="upload file", src={str(payload)!r}, dest={upload!r})
if not host.get_fact(File, path={stamp!r}):
    server.shell(name="guarded command", commands=["touch {stamp}"])
""")
    return [str(BIN / "pyinfra"), "-y", "--parallel", str(n), str(inventory), str(deploy)]


def ansible_hosts(work: Path, lab: SshLab, n: int, tag: str, payload: Path) -> list[str]:
    user, conf, upload, stamp = paths(tag)
    (work / "ansible.cfg").write_text(
        # timeout: SSH connect and login; 100 logins at once on 2 shared cores can take longer than the default 10 s
        f"[defaults]\nforks = {n}\nhost_key_checking = True\ngathering = explicit\ntimeout = 60\n"
        "interpreter_python = /usr/bin/python3\n[ssh_connection]\npipelining = True\n"
    )
    inventory = work / f"ansible_inv_{tag}.ini"
    lines = ["[lab]", *(f"{h.name} ansible_host={h.address}" for h in lab.hosts[:n]), "[lab:vars]"]
    lines += [
        "ansible_user=root",
        f"ansible_ssh_private_key_file={lab.key}",
        f"ansible_ssh_common_args='-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes'",
    ]
    inventory.write_text("\n".join(lines) + "\n")
    play = work / f"ansible_{tag}.yml"
    play.write_text(f"""- hosts: lab
  gather_facts: false
  tasks:
    - ansible.builtin.user: {{name: {user}}}
    - ansible.builtin.copy: {{content: {CONTENT!r}, dest: {conf}}}
    - ansible.builtin.copy: {{src: {payload}, dest: {upload}}}
    - ansible.builtin.command: touch {stamp}
      args: {{creates: {stamp}}}
""")
    return [str(BIN / "ansible-playbook"), "-i", str(inventory), str(play)]


def ssh_floor(work: Path, lab: SshLab, n: int) -> list[str]:
    """The floor under any SSH tool in Python: one process (start-up included) opening N asyncssh connections
    at once, host keys checked, and running one command on each, with the ciphers Harmony asks for."""
    script = work / "ssh_floor.py"
    script.write_text(f"""
import asyncio, json
from pathlib import Path
import asyncssh

async def one(host, known_hosts, key):
    async with asyncssh.connect(
        host["address"], username="root", known_hosts=known_hosts, client_keys=[key], config=None,
        encryption_algs=["aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"],
    ) as conn:
        await conn.run("true", check=True)

async def main():
    hosts = json.loads(Path({str(lab.workdir / "inventory.json")!r}).read_text())["hosts"][:{n}]
    known_hosts = asyncssh.read_known_hosts({str(lab.known_hosts)!r})
    key = asyncssh.read_private_key({str(lab.key)!r})
    await asyncio.gather(*(one(h, known_hosts, key) for h in hosts))

asyncio.run(main())
""")
    return [sys.executable, str(script)]


# --- 1,000 files on the local host ---------------------------------------------------------------------


def harmony_local(work: Path, files: int, target: Path) -> list[str]:
    deploy = work / "harmony_local.py"
    deploy.write_text(f"""
from pathlib import Path, PurePosixPath
from harmony.domain.deployment import Deployment
from harmony.modules.files import ManagedFile
from harmony.topology.linux_host import LinuxHost

deployment = Deployment(
    topology=LinuxHost.local(),
    scores=[
        ManagedFile(path=PurePosixPath({str(target)!r}) / f"f{{i}}.conf", content={CONTENT!r})
        for i in range({files})
    ],
)
""")
    return [str(BIN / "harmony"), "apply", str(deploy), "--yes"]


def pyinfra_local(work: Path, files: int, target: Path) -> list[str]:
    deploy = work / "pyinfra_local.py"
    deploy.write_text(f"""
from io import StringIO
from pyinfra.operations import files

for i in range({files}):
    files.put(name=f"file {{i}}", src=StringIO({CONTENT!r}), dest=f"{target}/f{{i}}.conf")
""")
    return [str(BIN / "pyinfra"), "-y", "@local", str(deploy)]


def ansible_local(work: Path, files: int, target: Path) -> list[str]:
    (work / "ansible.cfg").write_text("[defaults]\nforks = 1\ngathering = explicit\n")
    play = work / "ansible_local.yml"
    play.write_text(f"""- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.copy: {{content: {CONTENT!r}, dest: "{target}/f{{{{ item }}}}.conf"}}
      loop: "{{{{ range({files}) | list }}}}"
""")
    return [
        str(BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        str(play),
    ]


def table(title: str, rows: list[tuple[str, dict[str, tuple[float, float]]]]) -> str:
    out = [f"**{title}** (seconds; ratio = peer time / Harmony time)", ""]
    out.append("| case | run | Harmony | pyinfra | Ansible | vs pyinfra | vs Ansible |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for case, t in rows:
        for i, run in enumerate(("first (changes)", "second (no-op)")):
            h = t["harmony"][i]
            cells = [f"{t[tool][i]:.2f}" if tool in t else "—" for tool in TOOLS]
            ratios = [f"{t[tool][i] / h:.1f}x" if tool in t else "—" for tool in ("pyinfra", "ansible")]
            out.append(f"| {case} | {run} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="1,5,10,25", help="comma-separated host counts")
    parser.add_argument("--files", type=int, default=1000, help="files on the local host (0: skip)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="which tools to run")
    parser.add_argument("--no-doc", action="store_true", help="print the tables only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--repeat", type=int, default=3, help="SSH deploys: best of this many (first, no-op) pairs, each on fresh names"
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.hosts.split(",") if x]
    tools = [t for t in args.tools.split(",") if t]
    if os.geteuid() != 0:
        raise SystemExit("run as root: the SSH lab needs network namespaces")
    work = Path(tempfile.mkdtemp(prefix="harmony-bench-"))
    env = env_for(work)
    payload = work / "payload.bin"
    payload.write_bytes(os.urandom(64 * 1024))
    hosts_rows: list[tuple[str, dict[str, tuple[float, float]]]] = []
    floors: dict[int, float] = {}
    cpu_rows: dict[int, tuple[float, float]] = {}
    # Harmony runs from this checkout's sources: compile them once, as pip does for pyinfra's and Ansible's,
    # so that PYTHONDONTWRITEBYTECODE in the environment does not make every run compile them again.
    compileall.compile_dir(ROOT / "src", quiet=1)
    try:
        if sizes:
            with SshLab(work / "lab", max(sizes)) as lab:
                for n in sizes:
                    floors[n] = min(timed(ssh_floor(work, lab, n), env, work) for _ in range(args.repeat))
                    print(f"N={n} floor (asyncssh, N connections + one command each): {floors[n]:.2f}s")
                    row: dict[str, tuple[float, float]] = {}
                    for tool in tools:
                        make = {"harmony": harmony_hosts, "pyinfra": pyinfra_hosts, "ansible": ansible_hosts}[tool]
                        pairs: list[tuple[float, float]] = []
                        for k in range(args.repeat):
                            argv = make(work, lab, n, f"{tool[:2]}{n}r{k}", payload)
                            pairs.append((timed(argv, env, work), timed(argv, env, work)))
                        row[tool] = (min(p[0] for p in pairs), min(p[1] for p in pairs))
                        if tool == "harmony":  # its CPU seconds on this side: (first, no-op) per repeat, in order
                            spent = CPU["harmony"][-2 * args.repeat :]
                            cpu_rows[n] = (min(spent[0::2]), min(spent[1::2]))
                        first, noop = row[tool]
                        print(f"N={n} {tool}: first {first:.2f}s, no-op {noop:.2f}s (best of {args.repeat})")
                    hosts_rows.append((f"N = {n}", row))
        local_row: dict[str, tuple[float, float]] = {}
        for tool in tools if args.files > 0 else ():
            target = work / f"local-{tool}"
            target.mkdir()
            make_local = {"harmony": harmony_local, "pyinfra": pyinfra_local, "ansible": ansible_local}[tool]
            argv = make_local(work, args.files, target)
            local_row[tool] = (timed(argv, env, work), timed(argv, env, work))
            print(f"local {args.files} files {tool}: first {local_row[tool][0]:.2f}s, no-op {local_row[tool][1]:.2f}s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record_figures(hosts_rows, local_row, args.files)
    for n, floor in floors.items():
        record("hosts", f"SSH floor, N = {n}: {n} asyncssh connections + one command each", floor, "s")
        print(f"N={n}: floor {floor:.2f}s", end="")
        if n in cpu_rows:
            first, noop = cpu_rows[n]
            record("hosts", f"Harmony CPU seconds on this side, N = {n}, first run", first, "s")
            record("hosts", f"Harmony CPU seconds on this side, N = {n}, no-op", noop, "s")
            print(f"; Harmony CPU on this side: first {first:.2f}s, no-op {noop:.2f}s", end="")
        print()
    tables: list[str] = []
    if hosts_rows:
        tables.append(table("4-operation deploy on N SSH hosts", hosts_rows))
    if local_row:
        tables.append(table(f"{args.files} managed files on the local host", [(f"{args.files} files", local_row)]))
    text = "\n\n".join(tables)
    print("\n" + text)
    if not args.no_doc and hosts_rows and local_row:
        write_doc_section(text, repeat=args.repeat)


def record_figures(
    hosts_rows: list[tuple[str, dict[str, tuple[float, float]]]], local_row: dict[str, tuple[float, float]], files: int
) -> None:
    """The headline figures for bench/all.py, with issue 21's targets (N = 100 no-op ≤ 2.5 s, first ≤ 5 s;
    1,000 local files no-op ≤ 0.5 s, start-up included)."""
    for case, row in hosts_rows:
        if "harmony" not in row:
            continue
        first, noop = row["harmony"]
        big = case == "N = 100"
        record("hosts", f"4-op deploy, {case} SSH hosts, first run", first, "s", target=5.0 if big else None)
        record("hosts", f"4-op deploy, {case} SSH hosts, no-op", noop, "s", target=2.5 if big else None)
        for peer in ("pyinfra", "ansible"):
            if peer in row:
                record("hosts", f"{peer} / harmony, {case}, no-op", row[peer][1] / noop, "x", better="higher")
    if "harmony" in local_row:
        noop = local_row["harmony"][1]
        record(
            "hosts", f"{files} local files, no-op (start-up included)", noop, "s", target=0.5 if files == 1000 else None
        )
        if "pyinfra" in local_row:
            record(
                "hosts",
                f"pyinfra / harmony, {files} local files, no-op",
                local_row["pyinfra"][1] / noop,
                "x",
                target=65,
                better="higher",
            )


def write_doc_section(tables: str, *, repeat: int) -> None:
    """Replace this bench's section of docs/benchmarks.md (between its markers) with fresh figures."""
    doc = ROOT / "docs" / "benchmarks.md"
    start, end = "<!-- hosts-bench:start -->", "<!-- hosts-bench:end -->"
    load = os.getloadavg()[0]
    body = (
        f"{start}\n_Measured {time.strftime('%Y-%m-%d')} on this project's 2-core machine (load average {load:.1f} "
        f"at the end), wall-clock seconds of each tool's own command, SSH cases best of {repeat}. "
        "Rerun: `.venv/bin/python bench/hosts_bench.py`._\n\n" + tables + f"\n{end}"
    )
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[: text.index(start)] + body + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n## Linux hosts: Harmony vs pyinfra vs Ansible\n\n" + body + "\n"
    doc.write_text(text)


if __name__ == "__main__":
    main()
