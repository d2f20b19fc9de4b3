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
from pathlib import Path

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
from harmony.domain.errors import BootError, DhcpError, DnsError
from harmony.domain.names import ResourceName
from harmony.domain.values import Hostname, IPv4Address, IPv4Network, MacAddress
from harmony.infra.daemon import read_pid, start_daemon, stop_daemon
from harmony.infra.local_process import run_local
from harmony.infra.model_comment import embed, extract
from harmony.infra.programs import DNSMASQ

ARCH_CODES = {"bios": (0,), "uefi-x64": (7, 9), "uefi-arm64": (11,)}


class DnsmasqError(DnsError, DhcpError, BootError):
    """dnsmasq refused a configuration, or could not be started or read."""


def render_main(state_dir: Path, *, port: int, interfaces: Sequence[str], tftp: bool = False) -> str:
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
    """One dnsmasq daemon, in network namespace ``netns`` (or this one), configured under ``state_dir``."""

    def __init__(
        self, *, state_dir: Path, netns: str | None = None, port: int = 53, interfaces: Sequence[str] = ()
    ) -> None:
        self.state_dir = state_dir
        self.netns = netns
        self.port = port
        self.interfaces = tuple(interfaces)
        self._lock = asyncio.Lock()

    @property
    def _conf(self) -> Path:
        return self.state_dir / "dnsmasq.conf"

    @property
    def _fragments(self) -> Path:
        return self.state_dir / "conf.d"

    @property
    def _tftp(self) -> Path:
        return self.state_dir / "tftp"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "dnsmasq.pid"

    @property
    def _loaded(self) -> Path:
        return self.state_dir / "loaded"

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
        try:
            text = await asyncio.to_thread((self.state_dir / "leases").read_text)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise DnsmasqError("dhcp leases", e.strerror or str(e)) from e
        return parse_leases(text)

    # --- BootServer --------------------------------------------------------------------------------------

    async def boot_scripts(self) -> Sequence[BootScript]:
        if read_pid(self._pid_file) is None:
            return []
        return await asyncio.to_thread(self._read_scripts)

    def _read_scripts(self) -> list[BootScript]:
        scripts: list[BootScript] = []
        for path in sorted((self._tftp / "ipxe").glob("*.ipxe")):
            stem = path.stem
            try:
                mac = None if stem == "default" else MacAddress(stem.replace("-", ":"))
                scripts.append(BootScript(mac=mac, content=path.read_text()))
            except (ValueError, OSError):
                continue
        return scripts

    async def put_boot_script(self, script: BootScript) -> None:
        async with self._lock:
            await asyncio.to_thread(self._write_tftp, ENTRY_SCRIPT, ENTRY_SCRIPT_CONTENT.encode())
            await asyncio.to_thread(self._write_tftp, script.path, script.content.encode())
            await self._ensure_running()

    async def remove_boot_script(self, mac: MacAddress | None) -> None:
        async with self._lock:
            path = self._tftp / BootScript(mac=mac, content="").path
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def put_boot_file(self, name: BootFileName, content: bytes) -> None:
        async with self._lock:
            await asyncio.to_thread(self._write_tftp, name, content)
            await self._ensure_running()

    def _write_tftp(self, name: str, content: bytes) -> None:
        path = self._tftp / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, content)
        except OSError as e:
            raise DnsmasqError(f"boot file {name}", e.strerror or str(e)) from e

    # --- the daemon --------------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop the daemon (tests and teardown); the configuration stays on disk."""
        await stop_daemon(self._pid_file)

    async def _served(self) -> list[DnsRecordSet | DhcpSubnet]:
        def read() -> list[DnsRecordSet | DhcpSubnet]:
            if not self._fragments.is_dir() or not self._serving_files():
                return []
            texts = [p.read_text() for p in sorted(self._fragments.glob("*.conf"))]
            return [m for m in map(parse_fragment, texts) if m is not None]

        try:
            models = await asyncio.to_thread(read)
        except OSError as e:
            raise DnsmasqError(str(self.state_dir), e.strerror or str(e)) from e
        return models

    def _serving_files(self) -> bool:
        """The daemon runs and was started with exactly the fragments on disk."""
        if read_pid(self._pid_file) is None or not self._loaded.exists():
            return False
        texts = {p.name: p.read_text() for p in sorted(self._fragments.glob("*.conf"))}
        return self._loaded.read_text() == self._digest(texts)

    def _digest(self, fragments: dict[str, str]) -> str:
        main = render_main(self.state_dir, port=self.port, interfaces=self.interfaces, tftp=self._tftp_used())
        h = hashlib.sha256(main.encode())
        for name, text in sorted(fragments.items()):
            h.update(f"\0{name}\0{text}".encode())
        return h.hexdigest()

    def _prepare(self) -> None:
        for d in (self.state_dir, self._fragments, self._tftp):
            d.mkdir(parents=True, exist_ok=True)
        main = render_main(self.state_dir, port=self.port, interfaces=self.interfaces, tftp=self._tftp_used())
        if not self._conf.exists() or self._conf.read_text() != main:
            _atomic_write(self._conf, main.encode())

    async def _put_fragment(self, name: str, text: str | None) -> None:
        subject = name.removesuffix(".conf")
        async with self._lock:
            path = self._fragments / name
            try:
                before = await asyncio.to_thread(self._swap_fragment, path, text)
            except OSError as e:
                raise DnsmasqError(subject, e.strerror or str(e)) from e
            if before == text and await asyncio.to_thread(self._serving_files):
                return  # nothing to change, and the daemon already serves it: no restart, no blip
            test = await run_local(DNSMASQ.argv("--test", f"--conf-file={self._conf}"), timeout=30)
            if not test.ok:
                await asyncio.to_thread(_restore, path, before)
                raise DnsmasqError(subject, f"dnsmasq rejected the configuration: {test.stderr.strip()}")
            await self._restart(subject, path, before)

    def _swap_fragment(self, path: Path, text: str | None) -> str | None:
        """Write (or with ``None`` remove) a fragment; return what was there before."""
        self._prepare()
        before = path.read_text() if path.exists() else None
        if text is None:
            path.unlink(missing_ok=True)
        else:
            _atomic_write(path, text.encode())
        return before

    def _tftp_used(self) -> bool:
        """A host that serves no boot files does not listen on TFTP's port 69."""
        return self._tftp.is_dir() and any(p.is_file() for p in self._tftp.rglob("*"))

    async def _ensure_running(self) -> None:
        if read_pid(self._pid_file) is None:
            await asyncio.to_thread(self._prepare)
            await self._start("boot server")
        elif not await asyncio.to_thread(self._serving_files):  # the first boot file turns TFTP on
            await asyncio.to_thread(self._prepare)
            await stop_daemon(self._pid_file)
            await self._start("boot server")

    async def _restart(self, subject: str, path: Path, before: str | None) -> None:
        await stop_daemon(self._pid_file)
        try:
            await self._start(subject)
        except DnsmasqError:
            await asyncio.to_thread(_restore, path, before)
            await self._start(subject)
            raise

    async def _start(self, subject: str) -> None:
        result = await start_daemon(
            DNSMASQ.argv(f"--conf-file={self._conf}"), pid_file=self._pid_file, netns=self.netns
        )
        if not result.ok or read_pid(self._pid_file) is None:
            raise DnsmasqError(subject, f"dnsmasq did not start: {result.stderr.strip() or 'no pid file'}")
        await asyncio.to_thread(self._mark_loaded)

    def _mark_loaded(self) -> None:
        texts = {p.name: p.read_text() for p in sorted(self._fragments.glob("*.conf"))}
        _atomic_write(self._loaded, self._digest(texts).encode())


def _restore(path: Path, before: str | None) -> None:
    if before is None:
        path.unlink(missing_ok=True)
    else:
        _atomic_write(path, before.encode())


def _atomic_write(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
