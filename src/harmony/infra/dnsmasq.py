"""dnsmasq behind ``DnsServer``, ``DhcpServer`` and ``BootServer``: one daemon answers DNS, hands out DHCP
leases and serves boot scripts over TFTP.

Layout under ``state_dir``: ``dnsmasq.conf`` (global settings), ``conf.d/dns-<owner>.conf`` and
``conf.d/dhcp-<network>.conf`` (one fragment per record set or subnet; its first line carries the model
as JSON so it reads back exactly), ``tftp/`` (boot root), ``leases``, ``dnsmasq.pid``, ``dnsmasq.log``.

Why a restart per change: dnsmasq rereads host files on SIGHUP but not ``cname``/``srv-host``/
``dhcp-range`` lines, so a changed fragment is validated with ``dnsmasq --test`` and the daemon restarted
(leases persist in the lease file; a query in the ~50 ms gap is retried by the client). A fragment that
fails validation is put back as it was and nothing restarts. "Served now" means: the daemon runs and was
started with exactly the fragments on disk; otherwise the read methods report nothing served.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from harmony.domain.capabilities.boot import ENTRY_SCRIPT, ENTRY_SCRIPT_CONTENT, BootFileName, BootScript
from harmony.domain.capabilities.dhcp import DhcpLease, DhcpSubnet
from harmony.domain.capabilities.dns import (
    AaaaRecord,
    ARecord,
    CnameRecord,
    DnsRecordSet,
    PtrRecord,
    SrvRecord,
)
from harmony.domain.errors import BootError, DhcpError, DnsError, FilesError
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, MacAddress
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, DaemonControl, daemons_on
from harmony.infra.local_connector import LocalConnector
from harmony.infra.model_comment import embed, extract
from harmony.infra.programs import DNSMASQ

ARCH_CODES = {"bios": (0,), "uefi-x64": (7, 9), "uefi-arm64": (11,)}


class DnsmasqError(DnsError, DhcpError, BootError):
    """dnsmasq refused a configuration, or could not be started or read."""


def render_main(state_dir: Path | PurePosixPath, *, port: int, interfaces: Sequence[str], tftp: bool = False) -> str:
    """The global configuration: no upstream, no /etc/hosts, fragments from ``conf.d``; TFTP (port 69) only
    when ``tftp`` (there are boot files to serve)."""
    lines = [
        "# managed by harmony: global dnsmasq settings",
        f"pid-file={state_dir / 'dnsmasq.pid'}",
        f"log-facility={state_dir / 'dnsmasq.log'}",
        "user=root",
        "group=root",
        "no-resolv",
        "no-hosts",
        "no-poll",
        "domain-needed",
        "bogus-priv",
        f"port={port}",
        f"dhcp-leasefile={state_dir / 'leases'}",
        "dhcp-authoritative",
        "log-dhcp",
        "dhcp-match=set:ipxe,175",
        *(f"dhcp-match=set:{arch},option:client-arch,{code}" for arch, codes in ARCH_CODES.items() for code in codes),
        *(["enable-tftp", f"tftp-root={state_dir / 'tftp'}"] if tftp else []),
        *(f"interface={nic}" for nic in interfaces),
        *(["bind-dynamic"] if interfaces else []),
        f"conf-dir={state_dir / 'conf.d'},*.conf",
    ]
    return "\n".join(lines) + "\n"


def render_record_set(record_set: DnsRecordSet) -> str:
    """A DNS fragment: the zone served locally (NXDOMAIN for unknown names) and one line per record."""
    rs = record_set.sorted()
    ttl = rs.ttl
    lines = [embed("dns", rs.model_dump_json()).rstrip("\n"), f"local=/{rs.zone}/"]
    for r in rs.records:
        match r:
            case ARecord() | AaaaRecord():
                lines.append(f"host-record={r.name},{r.address},{ttl}")
            case CnameRecord():
                lines.append(f"cname={r.name},{r.target},{ttl}")
            case SrvRecord():
                lines.append(f"srv-host={r.owner_name},{r.target},{r.port},{r.priority},{r.weight}")
            case PtrRecord():
                lines.append(f"ptr-record={r.name},{r.target}")
    return "\n".join(lines) + "\n"


def subnet_tag(network: IPv4Network) -> str:
    return "n" + str(network).replace(".", "-").replace("/", "_")


def render_subnet(subnet: DhcpSubnet) -> str:
    """A DHCP fragment: a static range for reservations, the pools, options and per-architecture boot."""
    net = subnet.network
    tag = subnet_tag(net)
    mask = net.netmask
    lease = subnet.lease_time
    lines = [
        embed("dhcp", subnet.model_dump_json()).rstrip("\n"),
        f"dhcp-range=set:{tag},{net.network_address},static,{mask},{lease}",
        *(f"dhcp-range=set:{tag},{p.start},{p.end},{mask},{lease}" for p in subnet.pools),
    ]
    for r in sorted(subnet.reservations, key=lambda r: r.address):
        lines.append(f"dhcp-host={r.mac},{r.address}" + (f",{r.hostname}" if r.hostname else ""))
    if subnet.router is not None:
        lines.append(f"dhcp-option=tag:{tag},option:router,{subnet.router}")
    if subnet.dns_servers:
        lines.append(f"dhcp-option=tag:{tag},option:dns-server,{','.join(map(str, subnet.dns_servers))}")
    if subnet.domain is not None:
        lines.append(f"dhcp-option=tag:{tag},option:domain-name,{subnet.domain}")
    if subnet.boot is not None:
        boot = subnet.boot
        lines.append(f"dhcp-boot=tag:{tag},tag:ipxe,{boot.ipxe_script},,{boot.next_server}")
        for arch, file in sorted(boot.boot_files.items()):
            lines.append(f"dhcp-boot=tag:{tag},tag:!ipxe,tag:{arch},{file},,{boot.next_server}")
    return "\n".join(lines) + "\n"


def parse_fragment(text: str) -> DnsRecordSet | DhcpSubnet | None:
    """The model a fragment was rendered from, or ``None`` when it is not exactly such a rendering
    (edited by hand, truncated, not ours): such a fragment counts as not served and is rewritten."""
    found = extract(text)
    if found is None:
        return None
    kind, payload = found
    try:
        if kind == "dns":
            record_set = DnsRecordSet.model_validate_json(payload)
            return record_set if render_record_set(record_set) == text else None
        if kind == "dhcp":
            subnet = DhcpSubnet.model_validate_json(payload)
            return subnet if render_subnet(subnet) == text else None
    except (ValidationError, ValueError):
        return None
    return None


def parse_leases(text: str) -> list[DhcpLease]:
    """dnsmasq's lease file: ``expiry mac address hostname client-id`` per line (``*`` for none)."""
    leases: list[DhcpLease] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1] or fields[1].count(":") != 5:
            continue
        try:
            expiry = int(fields[0])
            leases.append(
                DhcpLease(
                    mac=MacAddress(fields[1]),
                    address=IPv4Address(fields[2]),
                    hostname=None if fields[3] == "*" else Hostname(fields[3]),
                    expires=None if expiry == 0 else datetime.fromtimestamp(expiry, UTC),
                )
            )
        except (ValidationError, ValueError):
            continue
    return leases


class Dnsmasq:
    """One dnsmasq daemon on the host behind ``connector``, configured under ``state_dir`` there."""

    def __init__(
        self,
        *,
        state_dir: Path | PurePosixPath,
        connector: Connector | None = None,
        port: int = 53,
        interfaces: Sequence[str] = (),
    ) -> None:
        self.state_dir = PurePosixPath(state_dir)
        self.port = port
        self.interfaces = tuple(interfaces)
        self._c: Connector = connector or LocalConnector(name="localhost")
        self._lock = asyncio.Lock()
        self._daemons: DaemonControl | None = None
        self._prepared = False
        tag = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        self.daemon = Daemon(
            name=f"harmony-dnsmasq-{tag}",
            argv=(DNSMASQ.name, f"--conf-file={self._conf}"),
            pid_file=self.state_dir / "dnsmasq.pid",
            log_file=self.state_dir / "dnsmasq.log",
            description=f"dnsmasq of {self.state_dir}",
        )

    @property
    def _conf(self) -> PurePosixPath:
        return self.state_dir / "dnsmasq.conf"

    @property
    def _fragments(self) -> PurePosixPath:
        return self.state_dir / "conf.d"

    @property
    def _tftp(self) -> PurePosixPath:
        return self.state_dir / "tftp"

    @property
    def boot_root(self) -> PurePosixPath:
        """The directory served over TFTP (boot scripts and files); other servers may serve it too."""
        return self._tftp

    @property
    def _loaded(self) -> PurePosixPath:
        return self.state_dir / "loaded"

    async def _control(self) -> DaemonControl:
        if self._daemons is None:
            self._daemons = await daemons_on(self._c)
        return self._daemons

    # --- DnsServer ---------------------------------------------------------------------------------------

    async def dns_record_sets(self) -> Sequence[DnsRecordSet]:
        return [m for m in await self._served() if isinstance(m, DnsRecordSet)]

    async def put_dns_record_set(self, record_set: DnsRecordSet) -> None:
        await self._put_fragment(f"dns-{record_set.owner}.conf", render_record_set(record_set))

    async def remove_dns_record_set(self, owner: ResourceName) -> None:
        await self._put_fragment(f"dns-{owner}.conf", None)

    # --- DhcpServer --------------------------------------------------------------------------------------

    async def dhcp_subnets(self) -> Sequence[DhcpSubnet]:
        return [m for m in await self._served() if isinstance(m, DhcpSubnet)]

    async def put_dhcp_subnet(self, subnet: DhcpSubnet) -> None:
        await self._put_fragment(f"dhcp-{subnet_tag(subnet.network)}.conf", render_subnet(subnet))

    async def remove_dhcp_subnet(self, network: IPv4Network) -> None:
        await self._put_fragment(f"dhcp-{subnet_tag(network)}.conf", None)

    async def dhcp_leases(self) -> Sequence[DhcpLease]:
        path = self.state_dir / "leases"
        state = (await self._c.stat_files([path], with_content=True))[path]
        return parse_leases((state.content or b"").decode(errors="replace"))

    # --- BootServer --------------------------------------------------------------------------------------

    async def boot_scripts(self) -> Sequence[BootScript]:
        scripts_dir = self._tftp / "ipxe"
        pids, dirs = await asyncio.gather(
            self._c.read_pids([self.daemon.pid_file]), self._c.read_directories([scripts_dir])
        )
        files = dirs[scripts_dir]
        if pids[self.daemon.pid_file] is None or files is None:
            return []
        scripts: list[BootScript] = []
        for name, content in sorted(files.items()):
            stem = name.removesuffix(".ipxe")
            if stem == name:
                continue
            try:
                mac = None if stem == "default" else MacAddress(stem.replace("-", ":"))
                scripts.append(BootScript(mac=mac, content=content.decode()))
            except (ValueError, UnicodeDecodeError):
                continue
        return scripts

    async def put_boot_script(self, script: BootScript) -> None:
        async with self._lock:
            await self._make_dirs()
            await self._write(self._tftp / ENTRY_SCRIPT, ENTRY_SCRIPT_CONTENT.encode(), "boot script")
            await self._write(self._tftp / script.path, script.content.encode(), "boot script")
            await self._ensure_running()

    async def remove_boot_script(self, mac: MacAddress | None) -> None:
        async with self._lock:
            await self._c.remove_path(self._tftp / BootScript(mac=mac, content="").path)

    async def put_boot_file(self, name: BootFileName, content: bytes) -> None:
        async with self._lock:
            await self._make_dirs()
            parent = (self._tftp / name).parent
            if parent != self._tftp:
                made = await self._c.run_command(["mkdir", "-p", "--", str(parent)], timeout=30)
                if not made.ok:
                    raise DnsmasqError(f"boot file {name}", f"cannot create {parent}: {made.stderr.strip()}")
            await self._write(self._tftp / name, content, f"boot file {name}")
            await self._ensure_running()

    async def _write(self, path: PurePosixPath, content: bytes, subject: str) -> None:
        try:
            await self._c.write_file(path, content, mode=0o644, owner=None, group=None)
        except FilesError as e:
            raise DnsmasqError(subject, str(e)) from e

    # --- the daemon --------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop the daemon (tests and teardown); the configuration stays on disk."""
        await (await self._control()).stop(self.daemon)

    async def _snapshot(self) -> tuple[bool, dict[str, str], bool]:
        """(the daemon runs and was started with exactly the configuration on disk, the fragments on disk,
        whether there are boot files to serve) — one round of reads."""
        boot_dirs = [self._tftp, self._tftp / "ipxe"]
        pids, dirs, loaded = await asyncio.gather(
            self._c.read_pids([self.daemon.pid_file]),
            self._c.read_directories([self._fragments, *boot_dirs]),
            self._c.stat_files([self._loaded], with_content=True),
        )
        files = dirs[self._fragments] or {}
        texts = {n: c.decode(errors="replace") for n, c in files.items() if n.endswith(".conf")}
        tftp = any(dirs[d] for d in boot_dirs)
        marker = loaded[self._loaded].content
        serving = (
            pids[self.daemon.pid_file] is not None
            and dirs[self._fragments] is not None
            and marker is not None
            and marker.decode(errors="replace") == self._digest(texts, tftp)
        )
        return serving, texts, tftp

    async def _served(self) -> list[DnsRecordSet | DhcpSubnet]:
        serving, texts, _ = await self._snapshot()
        if not serving:
            return []
        return [m for m in map(parse_fragment, (texts[n] for n in sorted(texts))) if m is not None]

    def _digest(self, fragments: dict[str, str], tftp: bool) -> str:
        main = render_main(self.state_dir, port=self.port, interfaces=self.interfaces, tftp=tftp)
        h = hashlib.sha256(main.encode())
        for name, text in sorted(fragments.items()):
            h.update(f"\0{name}\0{text}".encode())
        return h.hexdigest()

    async def _make_dirs(self) -> None:
        if not self._prepared:
            dirs = [str(d) for d in (self.state_dir, self._fragments, self._tftp, self._tftp / "ipxe")]
            made = await self._c.run_command(["mkdir", "-p", *dirs], timeout=30)
            if not made.ok:
                raise DnsmasqError(str(self.state_dir), f"cannot create the state directory: {made.stderr.strip()}")
            self._prepared = True

    async def _prepare(self, tftp: bool) -> None:
        """The directories and the global configuration; TFTP (port 69) only with boot files to serve."""
        await self._make_dirs()
        main = render_main(self.state_dir, port=self.port, interfaces=self.interfaces, tftp=tftp).encode()
        current = (await self._c.stat_files([self._conf], with_content=True))[self._conf]
        if current.content != main:
            await self._write(self._conf, main, "dnsmasq.conf")

    async def _put_fragment(self, name: str, text: str | None) -> None:
        subject = name.removesuffix(".conf")
        path = self._fragments / name
        async with self._lock:
            serving, texts, tftp = await self._snapshot()
            before = texts.get(name)
            await self._prepare(tftp)
            await self._set(path, text, subject)
            if before == text and serving:
                return  # nothing to change, and the daemon already serves it: no restart, no blip
            test = await self._c.run_command([DNSMASQ.name, "--test", f"--conf-file={self._conf}"], timeout=30)
            if not test.ok:
                await self._set(path, before, subject)
                raise DnsmasqError(subject, f"dnsmasq rejected the configuration: {test.stderr.strip()}")
            await self._restart(subject, path, before)

    async def _set(self, path: PurePosixPath, text: str | None, subject: str) -> None:
        if text is None:
            await self._c.remove_path(path)
        else:
            await self._write(path, text.encode(), subject)

    async def _ensure_running(self) -> None:
        serving, _, tftp = await self._snapshot()
        if serving:
            return
        await self._prepare(tftp)  # the first boot file turns TFTP on
        await (await self._control()).stop(self.daemon)
        await self._start("boot server")

    async def _restart(self, subject: str, path: PurePosixPath, before: str | None) -> None:
        await (await self._control()).stop(self.daemon)
        try:
            await self._start(subject)
        except DnsmasqError:
            await self._set(path, before, subject)
            await self._start(subject)
            raise

    async def _start(self, subject: str) -> None:
        problem = await (await self._control()).start(self.daemon)
        if problem is not None:
            raise DnsmasqError(subject, f"dnsmasq did not start: {problem}")
        _, texts, tftp = await self._snapshot()
        await self._write(self._loaded, self._digest(texts, tftp).encode(), "dnsmasq state")
