"""busybox httpd as the discovery endpoint: boot files over HTTP, and a CGI program that stores reports.

One daemon on the router (through its connector, so in its namespace or over SSH) serves ``docroot`` — the
boot server's root, so the kernel and initramfs go over HTTP instead of TFTP — on the endpoint's address
and port. ``cgi-bin/report`` (written by Harmony) stores each report as ``reports/<mac>.report``
(``address=``, ``received=`` and the machine's text; written to a temporary name and renamed, so a read never
sees half a report) and answers ``reboot`` when the machine has a boot script of its own (a role was
assigned), else ``wait``. ``cgi-bin/installed`` stores each installer's report as
``installs/<mac>.state`` (``status=installing|installed|failed generation=<n>``, ``received=``, the reason; the
generation is the one Harmony wrote to ``installs/<mac>.generation`` when it served the install, 1 without
one); on ``installed`` it first replaces that machine's boot script by ``LOCAL_BOOT_SCRIPT``, so the machine's
next network boot goes to its disk even if no Harmony run happens in between. A reinstall asked by Harmony
replaces an ``installed`` state by ``status=requested generation=<n>``.

``endpoint.json`` records the endpoint the daemon was started for; "served" means that file matches and the
daemon's pid is alive. busybox httpd does not write a pid file: ``start-stop-daemon`` keeps it in the
foreground and writes one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath

from pydantic import ValidationError

from harmony.domain.capabilities.discovery import DiscoveryEndpoint, DiscoveryReport
from harmony.domain.capabilities.installation import LOCAL_BOOT_SCRIPT, InstallState
from harmony.domain.errors import BootError, FilesError
from harmony.domain.values import MacAddress, ip_address
from harmony.infra.connector import Connector
from harmony.infra.daemon import Daemon, DaemonControl, daemons_on
from harmony.infra.local_connector import LocalConnector
from harmony.infra.programs import BUSYBOX, START_STOP_DAEMON

REMOTE_BUSYBOX = "/bin/busybox"
REMOTE_START_STOP_DAEMON = "/sbin/start-stop-daemon"

REPORT_CGI = r"""#!/bin/sh
# managed by harmony: stores a discovery report, answers what the machine should do next
mac=$(printf '%s' "$QUERY_STRING" | sed -n 's/^\(.*&\)\{0,1\}mac=\([0-9a-fA-F:]\{17\}\).*$/\2/p' | tr 'A-F:' 'a-f-')
printf 'Content-Type: text/plain\r\n\r\n'
if [ -z "$mac" ]; then echo "error: no mac= in the query"; exit 0; fi
tmp="$REPORTS/.$mac.$$"
{ echo "address=$REMOTE_ADDR"; echo "received=$(date +%s)"; head -c "${CONTENT_LENGTH:-0}"; } > "$tmp"
mv -f "$tmp" "$REPORTS/$mac.report"
if [ -e "$DOCROOT/ipxe/$mac.ipxe" ]; then echo reboot; else echo wait; fi
"""


INSTALLED_CGI = r"""#!/bin/sh
# managed by harmony: stores an installer's report; an installed machine's script becomes the local boot
field() { printf '%s' "$QUERY_STRING" | sed -n "s/^\(.*&\)\{0,1\}$1=\([$2]*\).*$/\2/p"; }
mac=$(field mac '0-9a-fA-F:' | tr 'A-F:' 'a-f-')
status=$(field status 'a-z')
printf 'Content-Type: text/plain\r\n\r\n'
case "$mac" in ??-??-??-??-??-??) ;; *) echo "error: no mac= in the query"; exit 0 ;; esac
case "$status" in
  installing|installed|failed) ;;
  *) echo "error: status= must be installing, installed or failed"; exit 0 ;;
esac
generation=$(cat "$INSTALLS/$mac.generation" 2>/dev/null)
case "$generation" in ''|*[!0-9]*) generation=1 ;; esac
tmp="$INSTALLS/.$mac.$$"
{ echo "status=$status generation=$generation"; echo "received=$(date +%s)"
  head -c "${CONTENT_LENGTH:-0}" | head -c 2000; } > "$tmp"
if [ "$status" = installed ]; then
  printf '%s' "$LOCAL_SCRIPT" > "$DOCROOT/ipxe/.$mac.$$" && mv -f "$DOCROOT/ipxe/.$mac.$$" "$DOCROOT/ipxe/$mac.ipxe"
fi
mv -f "$tmp" "$INSTALLS/$mac.state"
echo ok
"""


def parse_install_state(mac_stem: str, content: str) -> InstallState | None:
    """An installer report as the CGI program stored it; ``None`` when it is not one (pure)."""
    header, _, rest = content.partition("\n")
    received, _, detail = rest.partition("\n")
    fields = {key: value for key, _, value in (f.partition("=") for f in header.split())}
    status = fields.get("status")
    if not header.startswith("status=") or not received.startswith("received="):
        return None
    try:
        return InstallState.model_validate(
            {
                "mac": MacAddress(mac_stem.replace("-", ":")),
                "status": status,
                "received": datetime.fromtimestamp(int(received.removeprefix("received=")), UTC),
                "detail": detail.strip(),
                "generation": int(fields.get("generation", "1")),
            }
        )
    except (ValueError, ValidationError):
        return None


class BusyboxHttpdError(BootError):
    """busybox httpd could not be started, or its files written."""


def parse_stored_report(mac_stem: str, content: str) -> DiscoveryReport | None:
    """A report file as the CGI program stored it; ``None`` when it is not one (pure)."""
    header, _, rest = content.partition("\n")
    received, _, text = rest.partition("\n")
    if not header.startswith("address=") or not received.startswith("received="):
        return None
    try:
        raw = header.removeprefix("address=").strip()
        return DiscoveryReport(
            mac=MacAddress(mac_stem.replace("-", ":")),
            address=ip_address(raw) if raw else None,
            received=datetime.fromtimestamp(int(received.removeprefix("received=")), UTC),
            text=text,
        )
    except (ValueError, ValidationError):
        return None


class BusyboxHttpd:
    """The discovery endpoint on the box behind ``connector``: serves ``docroot``, stores reports."""

    def __init__(self, *, state_dir: PurePosixPath, docroot: PurePosixPath, connector: Connector) -> None:
        self.state_dir = state_dir
        self.docroot = docroot
        self._c = connector
        self._daemons: DaemonControl | None = None
        self._here = isinstance(connector, LocalConnector)
        self._tag = hashlib.sha256(str(state_dir).encode()).hexdigest()[:8]

    @property
    def reports_dir(self) -> PurePosixPath:
        return self.state_dir / "reports"

    @property
    def installs_dir(self) -> PurePosixPath:
        return self.state_dir / "installs"

    @property
    def _endpoint_file(self) -> PurePosixPath:
        return self.state_dir / "endpoint.json"

    def daemon(self, endpoint: DiscoveryEndpoint | None) -> Daemon:
        """The daemon serving ``endpoint`` (``None``: whichever runs, to stop it)."""
        pid_file, log = self.state_dir / "httpd.pid", self.state_dir / "httpd.log"
        argv: tuple[str, ...] = ()
        if endpoint is not None:
            listen = f"{endpoint.address}:{endpoint.port}"
            busybox = str(BUSYBOX.require()) if self._here else REMOTE_BUSYBOX
            launcher = str(START_STOP_DAEMON.require()) if self._here else REMOTE_START_STOP_DAEMON
            serve = (busybox, "--", "httpd", "-f", "-p", listen, "-h", str(self.docroot))
            argv = (launcher, "--start", "--background", "--make-pidfile", "--pidfile", str(pid_file),
                    "--output", str(log), "--exec", *serve)  # fmt: skip
        return Daemon(
            name=f"harmony-discovery-{self._tag}",
            argv=argv,
            pid_file=pid_file,
            log_file=log,
            description="Harmony discovery endpoint",
        )

    async def _control(self) -> DaemonControl:
        if self._daemons is None:
            self._daemons = await daemons_on(self._c)
        return self._daemons

    async def served(self) -> DiscoveryEndpoint | None:
        pid_file = self.state_dir / "httpd.pid"
        pids = await self._c.read_pids([pid_file])
        state = (await self._c.stat_files([self._endpoint_file], with_content=True))[self._endpoint_file]
        if pids[pid_file] is None or state.content is None:
            return None
        try:
            return DiscoveryEndpoint.model_validate_json(state.content)
        except ValidationError:
            return None

    async def serve(self, endpoint: DiscoveryEndpoint) -> None:
        """Start (or restart, for another endpoint) the daemon, with the CGI programs in place."""
        if await self.served() == endpoint:
            return
        made = await self._c.run_command(
            ["mkdir", "-p", "--", str(self.reports_dir), str(self.installs_dir), str(self.docroot / "cgi-bin"),
             str(self.docroot / "ipxe")],
            timeout=30,
        )  # fmt: skip
        if not made.ok:
            raise BusyboxHttpdError(str(self.state_dir), f"cannot create it: {made.stderr.strip()}")
        cgi = REPORT_CGI.replace(
            "#!/bin/sh\n", f"#!/bin/sh\nREPORTS='{self.reports_dir}'\nDOCROOT='{self.docroot}'\n", 1
        )
        await self._write(self.docroot / "cgi-bin" / "report", cgi.encode(), 0o755)
        installed = INSTALLED_CGI.replace(
            "#!/bin/sh\n",
            f"#!/bin/sh\nINSTALLS='{self.installs_dir}'\nDOCROOT='{self.docroot}'\nLOCAL_SCRIPT='{LOCAL_BOOT_SCRIPT}'\n",
            1,
        )
        await self._write(self.docroot / "cgi-bin" / "installed", installed.encode(), 0o755)
        control = await self._control()
        daemon = self.daemon(endpoint)
        await control.stop(self.daemon(None))
        problem = await control.start(daemon)
        if problem is not None:
            raise BusyboxHttpdError(f"discovery endpoint {endpoint.url}", f"busybox httpd did not start: {problem}")
        await self._write(self._endpoint_file, endpoint.model_dump_json().encode(), 0o644)

    async def stop(self) -> None:
        await (await self._control()).stop(self.daemon(None))

    async def reports(self) -> Sequence[DiscoveryReport]:
        files = (await self._c.read_directories([self.reports_dir]))[self.reports_dir] or {}
        found: list[DiscoveryReport] = []
        for name, content in sorted(files.items()):
            if name.startswith(".") or not name.endswith(".report"):
                continue
            report = parse_stored_report(name.removesuffix(".report"), content.decode(errors="replace"))
            if report is not None:
                found.append(report)
        return found

    async def install_states(self) -> Sequence[InstallState]:
        files = (await self._c.read_directories([self.installs_dir]))[self.installs_dir] or {}
        found: list[InstallState] = []
        for name, content in sorted(files.items()):
            if name.startswith(".") or not name.endswith(".state"):
                continue
            state = parse_install_state(name.removesuffix(".state"), content.decode(errors="replace"))
            if state is not None:
                found.append(state)
        return found

    async def request_install(self, mac: MacAddress, generation: int, *, reinstall: bool) -> None:
        # The generation first: a run cut in between leaves the old ``installed`` state, which the next run
        # sees as out of date and asks again; never a ``requested`` state whose install would be stamped old.
        stem = str(mac).replace(":", "-")
        await self._write(self.installs_dir / f"{stem}.generation", f"{generation}\n".encode(), 0o644)
        if reinstall:
            state = f"status=requested generation={generation}\nreceived={int(time.time())}\n"
            await self._write(self.installs_dir / f"{stem}.state", state.encode(), 0o644)

    async def _write(self, path: PurePosixPath, content: bytes, mode: int) -> None:
        try:
            await self._c.write_file(path, content, mode=mode, owner=None, group=None)
        except FilesError as e:
            raise BusyboxHttpdError(str(path), f"cannot write it: {e}") from e
