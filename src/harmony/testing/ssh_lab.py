"""A lab of SSH hosts on this machine: network namespaces, each running its own ``sshd``.

Each lab host is a network namespace ``hm<token><i>`` joined to the root namespace by a veth pair on its
own /30 (``10.<lab>.<i>.2``, with a route to the lab's ``10.<lab>.0.0/16`` via this machine, so lab hosts
reach each other and nothing else; this machine blackholes that /16 behind the veth routes, so traffic for a
lab address whose link is down is dropped, never sent towards the default gateway), and a
private mount namespace in which ``/etc``, ``/root``, ``/home``,
``/srv``, ``/var/lib`` (dpkg and apt state, daemon state such as PostgreSQL clusters and podman stores)
and ``/var/cache/apt`` are copy-on-write overlays, and ``/run`` is an empty directory of the host's own
(``<dir>/run``): users, packages, files, pid files and sockets of one lab host are not seen by the others,
nor by the real machine, so two hosts' dnsmasq, HAProxy or PostgreSQL never collide. Root logs in with the
lab's key and gets stock shell dotfiles (so a timing is not dominated by the machine's own ``pyenv init``).
Two more accounts exist on every host: ``hmsudo`` (password-less sudo) and ``hmplain`` (no sudo at all).
``/srv/readonly`` is a read-only mount, to produce write failures for real.

Needs root, ``ip``, ``unshare``, ``sshd`` and ``ssh-keygen``. ``stop()`` kills the sshd processes and deletes
the namespaces, also after a failed ``start()``. Not guaranteed: isolation of anything outside the overlaid
directories (``/tmp`` and ``/usr`` are the real ones; the process table is shared). Lab hosts do not run
systemd: daemons on them are pid-file daemons.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harmony.domain.errors import HarmonyError
from harmony.domain.inventory import Host, Inventory
from harmony.domain.values import Hostname, Port, ip_address
from harmony.infra.programs import IP, SH, SSH_KEYGEN, SSHD, UNSHARE

OVERLAID = ("/etc", "/root", "/home", "/srv", "/var/lib", "/var/cache/apt")
PLAIN_USER = "hmplain"
SUDO_USER = "hmsudo"

_BOOT = """set -e
d={dir}
for m in {overlaid}; do
  o="$d/overlay$(echo "$m" | tr / _)"
  mkdir -p "$o/upper" "$o/work"
  mount -t overlay overlay -o "lowerdir=$m,upperdir=$o/upper,workdir=$o/work" "$m"
done
mkdir -p "$d/run"
mount --bind "$d/run" /run
mkdir -p /run/lock /run/sshd
rm -f /root/.bash_profile /root/.bash_login
cp /etc/skel/.bashrc /etc/skel/.profile /root/
echo {name} > /etc/hostname
install -m 644 {lab}/authorized_keys /etc/ssh/harmony-lab-authorized-keys  # readable by every login user
for u in {plain} {sudo}; do
  id "$u" >/dev/null 2>&1 || useradd -m -s /bin/bash "$u"
  usermod -p '*' "$u"
done
echo '{sudo} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{sudo}
chmod 440 /etc/sudoers.d/{sudo}
rm -f /etc/sudoers.d/{plain}
rm -f /etc/apt/sources.list.d/*
echo 'APT::Sandbox::User "root";' > /etc/apt/apt.conf.d/99harmony-lab  # the repo is in a private temp dir
if [ -d "{lab}/apt-repo" ]; then echo "deb [trusted=yes] file:{lab}/apt-repo ./" > /etc/apt/sources.list; fi
mkdir -p /srv/readonly
mount -t tmpfs -o ro,size=64k tmpfs /srv/readonly
{cgroups}
exec {sshd} -D -e -f "$d/sshd_config"
"""

_SSHD_CONFIG = """Port 22
ListenAddress {address}
HostKey {dir}/host_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile /etc/ssh/harmony-lab-authorized-keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
MaxStartups 100:30:200
Subsystem sftp /usr/lib/openssh/sftp-server
"""


class LabError(HarmonyError):
    """The SSH lab could not be set up: a command failed, or a host's sshd did not come up."""


@dataclass
class LabHost:
    name: str
    netns: str
    veth: str
    address: str
    dir: Path
    process: subprocess.Popen[bytes] | None = None


@dataclass
class SshLab:
    """``count`` SSH hosts under ``workdir``; ``start()`` then ``stop()`` (or use it as a context manager)."""

    workdir: Path
    count: int
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    hosts: list[LabHost] = field(default_factory=list[LabHost])
    subnet: int | None = None

    @property
    def key(self) -> Path:
        return self.workdir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    def __enter__(self) -> SshLab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for old in (self.key, self.key.with_suffix(".pub")):
            old.unlink(missing_ok=True)
        _run(*SSH_KEYGEN.argv("-q", "-t", "ed25519", "-N", "", "-C", "harmony-lab", "-f", str(self.key)))
        (self.workdir / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        subnet = _free_subnet()
        self.subnet = subnet
        # Below the /30 routes of the veths: a lab address whose link is gone is dropped, not routed outside.
        _run(*IP.argv("route", "replace", "blackhole", f"10.{subnet}.0.0/16"))
        try:
            for i in range(self.count):
                self.hosts.append(self._start_host(i, subnet))
            known = [f"{h.address} {(h.dir / 'host_key.pub').read_text().strip()}" for h in self.hosts]
            self.known_hosts.write_text("\n".join(known) + "\n")
            for h in self.hosts:
                _wait_for_port(h.address, 22, h)
        except BaseException:
            self.stop()
            raise
        (self.workdir / "inventory.json").write_text(self.inventory().model_dump_json(indent=2))
        state = [
            {"netns": h.netns, "veth": h.veth, "pid": h.process.pid if h.process else None, "subnet": self.subnet}
            for h in self.hosts
        ]
        (self.workdir / "lab.json").write_text(json.dumps(state))

    def _start_host(self, i: int, subnet: int) -> LabHost:
        name = f"hm{self.token}{i}"
        host = LabHost(
            name=f"lab{i}", netns=name, veth=f"hv{self.token}{i}", address=f"10.{subnet}.{i}.2", dir=self.workdir / name
        )
        shutil.rmtree(host.dir, ignore_errors=True)  # a lab restarted in the same directory starts clean
        host.dir.mkdir(parents=True)
        _run(*SSH_KEYGEN.argv("-q", "-t", "ed25519", "-N", "", "-f", str(host.dir / "host_key")))
        _run(*IP.argv("netns", "add", host.netns))
        _run(*IP.argv("link", "add", host.veth, "type", "veth", "peer", "name", f"hp{self.token}{i}"))
        _run(*IP.argv("link", "set", f"hp{self.token}{i}", "netns", host.netns))
        _run(*IP.argv("addr", "add", f"10.{subnet}.{i}.1/30", "dev", host.veth))
        _run(*IP.argv("link", "set", host.veth, "up"))
        for cmd in (
            [IP.name, "link", "set", "lo", "up"],
            [IP.name, "link", "set", f"hp{self.token}{i}", "name", "eth0"],
            [IP.name, "addr", "add", f"{host.address}/30", "dev", "eth0"],
            [IP.name, "link", "set", "eth0", "up"],
            # Lab hosts reach each other through this machine (it forwards between the veths), and only that:
            # no default route, so a lab host never sends traffic towards the machine's own gateway.
            [IP.name, "route", "add", f"10.{subnet}.0.0/16", "via", f"10.{subnet}.{i}.1"],
        ):
            _run(*IP.argv("netns", "exec", host.netns, *cmd))
        (host.dir / "sshd_config").write_text(_SSHD_CONFIG.format(address=host.address, dir=host.dir, lab=self.workdir))
        boot = _BOOT.format(
            dir=host.dir,
            lab=self.workdir,
            overlaid=" ".join(OVERLAID),
            name=host.name,
            plain=PLAIN_USER,
            sudo=SUDO_USER,
            sshd=SSHD.require(),
            cgroups=_cgroup_mounts(),
        )
        (host.dir / "boot.sh").write_text(boot)
        log = (host.dir / "sshd.log").open("wb")
        host.process = subprocess.Popen(
            IP.argv(
                "netns",
                "exec",
                host.netns,
                *UNSHARE.argv("--mount", "--propagation", "private", *SH.argv(str(host.dir / "boot.sh"))),
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return host

    def stop(self) -> None:
        for h in self.hosts:
            if h.process is not None and h.process.poll() is None:
                h.process.send_signal(signal.SIGTERM)
                try:
                    h.process.wait(5)
                except subprocess.TimeoutExpired:
                    h.process.kill()
                    h.process.wait()
            _kill_namespace_processes(h.netns)
            subprocess.run([IP.name, "netns", "del", h.netns], capture_output=True, check=False)
            subprocess.run([IP.name, "link", "del", h.veth], capture_output=True, check=False)
        self.hosts.clear()
        if self.subnet is not None:
            _drop_blackhole(self.subnet)
            self.subnet = None

    def inventory(self, *, user: str = "root") -> Inventory:
        return Inventory(
            hosts=tuple(
                Host(
                    name=Hostname(h.name),
                    address=ip_address(h.address),
                    ssh_port=Port(22),
                    user=user,
                    key=self.key,
                    groups=frozenset({"lab"}),
                    labels={"netns": h.netns},
                )
                for h in self.hosts
            )
        )


def load_inventory(workdir: Path) -> Inventory:
    """The inventory a running lab wrote into ``workdir`` (for deployments and scripts)."""
    return Inventory.model_validate(json.loads((workdir / "inventory.json").read_text()))


def stop_saved(workdir: Path) -> None:
    """Stop a lab started by another process (``python -m harmony.testing.ssh_lab up``)."""
    state_file = workdir / "lab.json"
    if not state_file.exists():
        return
    for h in json.loads(state_file.read_text()):
        if h["pid"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(h["pid"], signal.SIGTERM)
        _kill_namespace_processes(h["netns"])
        subprocess.run([IP.name, "netns", "del", h["netns"]], capture_output=True, check=False)
        subprocess.run([IP.name, "link", "del", h["veth"]], capture_output=True, check=False)
        if h.get("subnet") is not None:
            _drop_blackhole(h["subnet"])
    state_file.unlink()


def main(argv: list[str]) -> int:
    """``up DIR [N]``: start N (default 3) lab hosts and leave them running; ``down DIR``: stop them."""
    if len(argv) >= 2 and argv[0] == "up":
        workdir = Path(argv[1]).absolute()
        stop_saved(workdir)
        lab = SshLab(workdir, int(argv[2]) if len(argv) > 2 else 3)
        lab.start()
        for h in lab.hosts:
            print(f"{h.name} root@{h.address} (netns {h.netns})")
        print(f"inventory: {workdir / 'inventory.json'}; stop with: python -m harmony.testing.ssh_lab down {workdir}")
        return 0
    if len(argv) == 2 and argv[0] == "down":
        stop_saved(Path(argv[1]).absolute())
        return 0
    print("usage: python -m harmony.testing.ssh_lab up DIR [N] | down DIR", file=sys.stderr)
    return 2


def _cgroup_mounts() -> str:
    """Shell lines mounting this machine's cgroup hierarchies again: ``ip netns exec`` mounts a fresh
    ``/sys`` without them, and container runtimes (runc) need them to start anything."""
    lines: list[str] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, target, fstype, options, *_ = line.split()
        if not target.startswith("/sys/fs/cgroup"):
            continue
        if fstype == "tmpfs" and target == "/sys/fs/cgroup":
            lines.insert(0, "mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup")
        elif fstype in ("cgroup", "cgroup2"):
            wanted = ",".join(
                o for o in options.split(",") if o not in ("rw", "ro", "relatime", "nosuid", "nodev", "noexec")
            )
            lines.append(f"mkdir -p {target} && mount -t {fstype} -o {wanted or 'defaults'} {fstype} {target}")
    return "\n".join(lines)


def _run(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")


def _drop_blackhole(subnet: int) -> None:
    subprocess.run([IP.name, "route", "del", "blackhole", f"10.{subnet}.0.0/16"], capture_output=True, check=False)


def _free_subnet() -> int:
    used = subprocess.run(IP.argv("-o", "addr"), capture_output=True, text=True, check=False).stdout
    candidates = [n for n in range(200, 250) if f" 10.{n}." not in used]
    return candidates[secrets.randbelow(len(candidates))]


def _wait_for_port(address: str, port: int, host: LabHost, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if host.process is not None and host.process.poll() is not None:
            raise LabError(f"sshd of {host.name} exited: {(host.dir / 'sshd.log').read_text()[-2000:]}")
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise LabError(f"sshd of {host.name} not listening on {address}:{port} after {deadline}s")


def _kill_namespace_processes(netns: str) -> None:
    pids = subprocess.run(IP.argv("netns", "pids", netns), capture_output=True, text=True, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
