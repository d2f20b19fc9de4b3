"""nftables behind ``Firewall``: the whole policy is one table, swapped atomically, with rollback.

The policy is rendered into ``table inet <table>`` and loaded by one ``nft -f`` transaction that deletes
and recreates the table, so packets see the old ruleset or the new one, never a mix, and a ruleset that
fails to load changes nothing. Every rule carries a comment naming the policy element it comes from;
reading back parses ``nft -j list table`` into chains and comments and compares that with what the policy
renders to (``in_sync``). The last applied policy is kept as JSON in ``state_dir/firewall.json``.

After the swap every must-reach endpoint is probed; if one fails, the table saved before the swap is
loaded back (again in one transaction) and ``FirewallRolledBack`` raised. Before the swap a detached
rollback timer is armed (``sleep N; nft -f saved``) and only disarmed when the probes pass, so the previous
ruleset also comes back if this process dies or loses the box mid-change. What is not guaranteed:
detection of a rule edited by hand without changing its comment. Other tables are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pydantic import ValidationError

from harmony.domain.capabilities.firewall import (
    Endpoint,
    FirewallPolicy,
    FirewallState,
    Masquerade,
    PortForward,
    Rule,
    Zone,
)
from harmony.domain.errors import FirewallError, FirewallRolledBack
from harmony.infra.local_process import run_local
from harmony.infra.programs import IP, NFT, SH
from harmony.infra.state_files import write_atomic

type Probe = Callable[[Endpoint], Awaitable[str | None]]
"""Try to reach an endpoint; ``None`` when reachable, else why not."""


class NftablesError(FirewallError):
    """nft rejected a ruleset or could not be run; the previous ruleset is still active."""


class NftablesRolledBack(NftablesError, FirewallRolledBack):
    """The new ruleset cut off a must-reach endpoint and the previous one was loaded back."""

    def __init__(self, endpoint: str, message: str) -> None:
        FirewallRolledBack.__init__(self, endpoint, message)


@dataclass(frozen=True)
class Chain:
    name: str
    hook: str
    kind: str  # filter | nat
    priority: str
    policy: str
    rules: tuple[tuple[str, str], ...]  # (rule text, comment)


type Layout = dict[str, tuple[str, tuple[str, ...]]]
"""Chain name -> (policy, rule comments in order): what ``in_sync`` compares."""


def _set(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _matchers(zone: Zone, side: str) -> list[tuple[str, int]]:
    """nft match expressions selecting ``zone`` as source (``side="s"``) or destination (``"d"``).

    Each is paired with the IP version it implies (0: any), so impossible v4/v6 pairs can be skipped.
    """
    if zone.is_local:
        return [("", 0)]
    out: list[tuple[str, int]] = []
    if zone.interfaces:
        key = "iifname" if side == "s" else "oifname"
        out.append((f"{key} " + _set([f'"{n}"' for n in zone.interfaces]), 0))
    v4 = [str(n) for n in zone.networks if n.version == 4]
    v6 = [str(n) for n in zone.networks if n.version == 6]
    if v4:
        out.append((f"ip {side}addr " + _set(v4), 4))
    if v6:
        out.append((f"ip6 {side}addr " + _set(v6), 6))
    return out


def _protocol(rule: Rule) -> str:
    ports = [str(int(p)) for p in rule.ports]
    if rule.protocol in ("tcp", "udp"):
        return f"{rule.protocol} dport " + _set(ports) if ports else f"meta l4proto {rule.protocol}"
    if rule.protocol == "icmp":
        return "meta l4proto { icmp, ipv6-icmp }"
    return ""


def _comment(tag: str, text: str) -> str:
    return f"{tag} {text}"[:120].replace('"', "'")


def _pairs(source: Zone, destination: Zone) -> list[str]:
    combined: list[str] = []
    for s, sv in _matchers(source, "s"):
        for d, dv in _matchers(destination, "d"):
            if sv and dv and sv != dv:
                continue
            combined.append(" ".join(x for x in (s, d) if x))
    return combined


def _rule_lines(index: int, rule: Rule) -> list[tuple[str, str]]:
    verdict = "accept" if rule.action == "allow" else "drop"
    proto = _protocol(rule)
    comment = _comment(f"r{index}", rule.describe())
    return [
        (" ".join(x for x in (match, proto, verdict) if x), comment) for match in _pairs(rule.source, rule.destination)
    ]


def _forward_lines(index: int, fwd: PortForward) -> list[tuple[str, str]]:
    family = "ip" if fwd.to_address.version == 4 else "ip6"
    target = f"[{fwd.to_address}]" if fwd.to_address.version == 6 else str(fwd.to_address)
    action = f"{fwd.protocol} dport {int(fwd.port)} dnat {family} to {target}:{int(fwd.to_port or fwd.port)}"
    comment = _comment(f"f{index}", fwd.describe())
    return [
        (" ".join(x for x in (m, action) if x), comment)
        for m, v in _matchers(fwd.source, "s")
        if v in (0, fwd.to_address.version)
    ]


def _masquerade_lines(index: int, nat: Masquerade) -> list[tuple[str, str]]:
    comment = _comment(f"m{index}", nat.describe())
    return [(f"{match} masquerade".strip(), comment) for match in _pairs(nat.source, nat.destination)]


BASE_FILTER = (
    ("ct state established,related accept", "base established"),
    ("ct state invalid drop", "base invalid"),
)


def build_chains(policy: FirewallPolicy) -> list[Chain]:
    """The chains a policy renders to, in order (pure; ``render`` and ``layout`` both come from this)."""
    verdict = "drop" if policy.default_deny else "accept"
    inbound: list[tuple[str, str]] = [*BASE_FILTER, ('iifname "lo" accept', "base loopback")]
    inbound.append(("meta l4proto ipv6-icmp accept", "base icmpv6"))
    forward: list[tuple[str, str]] = [*BASE_FILTER, ("ct status dnat accept", "base port forwards")]
    outbound: list[tuple[str, str]] = []
    for i, rule in enumerate(policy.rules, 1):
        lines = _rule_lines(i, rule)
        if rule.destination.is_local:
            inbound += lines
        elif rule.source.is_local:
            outbound += lines
        else:
            forward += lines
    pre = [line for i, f in enumerate(policy.port_forwards, 1) for line in _forward_lines(i, f)]
    post = [line for i, m in enumerate(policy.masquerade, 1) for line in _masquerade_lines(i, m)]
    return [
        Chain("input", "input", "filter", "filter", verdict, tuple(inbound)),
        Chain("forward", "forward", "filter", "filter", verdict, tuple(forward)),
        Chain("output", "output", "filter", "filter", "accept", tuple(outbound)),
        Chain("prerouting", "prerouting", "nat", "dstnat", "accept", tuple(pre)),
        Chain("postrouting", "postrouting", "nat", "srcnat", "accept", tuple(post)),
    ]


def render(policy: FirewallPolicy, table: str) -> str:
    """An ``nft -f`` script replacing ``table`` with the policy in one transaction."""
    out = [f"table inet {table}", f"delete table inet {table}", f"table inet {table} {{"]
    for c in build_chains(policy):
        out.append(f"  chain {c.name} {{")
        out.append(f"    type {c.kind} hook {c.hook} priority {c.priority}; policy {c.policy};")
        out += [f'    {text} comment "{comment}"' for text, comment in c.rules]
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def layout(policy: FirewallPolicy) -> Layout:
    return {c.name: (c.policy, tuple(comment for _, comment in c.rules)) for c in build_chains(policy)}


def parse_ruleset(nft_json: str, table: str) -> Layout | None:
    """Chains, policies and rule comments of ``inet table`` from ``nft -j list …`` output (``None``: absent)."""
    items = cast(list[dict[str, dict[str, object]]], json.loads(nft_json).get("nftables", []))
    if not any("table" in i and i["table"].get("name") == table for i in items):
        return None
    chains: dict[str, tuple[str, list[str]]] = {}
    for item in items:
        chain = item.get("chain")
        if chain is not None and chain.get("table") == table and chain.get("family") == "inet":
            chains[str(chain["name"])] = (str(chain.get("policy", "accept")), [])
    for item in items:
        rule = item.get("rule")
        if rule is not None and rule.get("table") == table and str(rule.get("chain")) in chains:
            chains[str(rule["chain"])][1].append(str(rule.get("comment", "")))
    return {name: (policy, tuple(comments)) for name, (policy, comments) in chains.items()}


class Nftables:
    """The ``inet <table>`` table of the network namespace ``netns`` (or this one)."""

    def __init__(
        self,
        *,
        state_dir: Path,
        probe: Probe,
        netns: str | None = None,
        table: str = "harmony",
        rollback_after: float = 60.0,
    ) -> None:
        self.state_dir = state_dir
        self.netns = netns
        self.table = table
        self.rollback_after = rollback_after
        self._probe = probe
        self._lock = asyncio.Lock()

    @property
    def _state_file(self) -> Path:
        return self.state_dir / "firewall.json"

    async def firewall_state(self) -> FirewallState:
        policy = await asyncio.to_thread(self._read_policy)
        live = parse_ruleset(await self._nft(["-j", "list", "ruleset"]), self.table)
        expected = None if policy is None else layout(policy)
        return FirewallState(policy=policy, in_sync=live == expected)

    def _read_policy(self) -> FirewallPolicy | None:
        try:
            return FirewallPolicy.model_validate_json(self._state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as e:
            raise NftablesError(str(self._state_file), f"cannot read the last applied policy: {e}") from e

    async def apply_firewall_policy(self, policy: FirewallPolicy, *, must_reach: Sequence[Endpoint]) -> None:
        async with self._lock:
            previous = await self._saved_table()
            backup = self.state_dir / "rollback.nft"
            await asyncio.to_thread(write_atomic, backup, previous)
            timer = await self._arm_rollback(backup)
            settled = False  # the live ruleset is either confirmed or back to the previous one
            try:
                try:
                    await self._nft(["-f", "-"], stdin=render(policy, self.table))
                except NftablesError:
                    settled = True  # one transaction: a ruleset that fails to load changed nothing
                    raise
                for endpoint in must_reach:
                    problem = await self._probe(endpoint)
                    if problem is not None:
                        await self._nft(["-f", "-"], stdin=previous)
                        settled = True
                        raise NftablesRolledBack(str(endpoint), problem)
                if timer.returncode is not None:
                    settled = True
                    raise NftablesRolledBack(
                        "firewall", f"the probes outlasted the {self.rollback_after}s rollback timer"
                    )
                settled = True
            finally:
                if settled:  # otherwise the timer stays armed and restores the previous ruleset by itself
                    await _disarm(timer)
            await asyncio.to_thread(self._write_policy, policy)

    async def _arm_rollback(self, backup: Path) -> asyncio.subprocess.Process:
        """A dead man's switch: a detached ``sleep; nft -f backup`` that outlives this process.

        Disarmed once the probes pass; if Harmony dies (or loses its connection) mid-change, the previous
        ruleset comes back after ``rollback_after`` seconds anyway.
        """
        script = f"sleep {self.rollback_after} && exec {NFT.name} -f {shlex.quote(str(backup))}"
        NFT.require()
        argv = SH.argv("-c", script)
        full = IP.argv("netns", "exec", self.netns, *argv) if self.netns else argv
        try:
            return await asyncio.create_subprocess_exec(
                *full,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as e:
            raise NftablesError("rollback timer", e.strerror or str(e)) from e

    def _write_policy(self, policy: FirewallPolicy) -> None:
        write_atomic(self._state_file, policy.model_dump_json(indent=2))

    async def _saved_table(self) -> str:
        """An ``nft -f`` script that puts the table back exactly as it is now (or removes it)."""
        reset = f"table inet {self.table}\ndelete table inet {self.table}\n"
        listing = await self._nft(["list", "tables"])
        if f"table inet {self.table}" not in listing.splitlines():
            return reset
        return reset + await self._nft(["list", "table", "inet", self.table])

    async def _nft(self, args: Sequence[str], *, stdin: str | None = None) -> str:
        result = await run_local(
            NFT.argv(*args), stdin=None if stdin is None else stdin.encode(), timeout=30, netns=self.netns
        )
        if not result.ok:
            raise NftablesError(f"nft {' '.join(args)}", result.stderr.strip() or f"exited {result.exit_status}")
        return result.stdout


async def _disarm(timer: asyncio.subprocess.Process) -> None:
    if timer.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(timer.pid, signal.SIGKILL)
    await timer.wait()


async def tcp_probe(endpoint: Endpoint, *, netns: str | None, timeout: float = 3.0) -> str | None:
    """Open a TCP connection to ``endpoint`` from ``netns`` (or this namespace); ``None`` when it worked."""
    if netns is None:
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(str(endpoint.address), int(endpoint.port))
                writer.close()
        except (OSError, TimeoutError) as e:
            return f"connect failed: {str(e) or type(e).__name__}"
        return None
    code = (
        "import socket,sys\n"
        f"socket.create_connection(({str(endpoint.address)!r}, {int(endpoint.port)}), timeout={timeout}).close()\n"
    )
    result = await run_local([sys.executable, "-c", code], timeout=timeout + 10, netns=netns)
    if result.ok:
        return None
    return "connect failed: " + (result.stderr.strip().splitlines() or ["no answer"])[-1]
