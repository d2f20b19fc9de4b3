"""nftables behind ``Firewall``: the whole policy is one table, swapped atomically, with rollback.

The policy is rendered into ``table inet <table>`` and loaded by one ``nft -f`` transaction that deletes
and recreates the table, so packets see the old ruleset or the new one, never a mix, and a ruleset that
fails to load changes nothing. Every rule carries a comment naming the policy element it comes from;
reading back parses ``nft -j list table`` into chains and comments and compares that with what the policy
renders to (``in_sync``). The last applied policy is kept as JSON in ``state_dir/firewall.json``.

After the swap every must-reach endpoint is probed (from where Harmony runs); if one fails, the ruleset
saved before the swap is loaded back (again in one transaction) and ``FirewallRolledBack`` raised. The
rollback is armed on the box itself before the swap and works in generations (see ``Nftables``), so the
previous ruleset also comes back when Harmony dies or loses its SSH session to the box mid-change, and a
stale timer never restores an old ruleset over a later confirmed one. Every command runs through the
host's connector (this machine, a network namespace on it, or SSH). What is not guaranteed: detection of a
rule edited by hand without changing its comment. Other tables are left alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
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
from harmony.infra.connector import Connector
from harmony.infra.local_connector import LocalConnector
from harmony.infra.local_process import run_local
from harmony.infra.programs import NFT, SH

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


_SWITCH = r"""
set -e
d=$1; t=$2; w=$3; rollback=$4
mkdir -p "$d"
exec 9>>"$d/lock"
flock -w 60 9
settled=""
if [ -s "$d/pending" ]; then
  p=$(cat "$d/pending")
  nft -f "$d/rollback-$p.nft"
  rm -f "$d/pending"
  settled=" settled $p"
fi
g=$(( $(cat "$d/generation" 2>/dev/null || echo 0) + 1 ))
{
  printf 'table inet %s\ndelete table inet %s\n' "$t" "$t"
  nft list table inet "$t" 2>/dev/null || true
} > "$d/.rollback.tmp"
mv -f "$d/.rollback.tmp" "$d/rollback-$g.nft"
cat > "$d/.new.nft"
nft -c -f "$d/.new.nft"
echo "$g" > "$d/generation"
echo "$g" > "$d/pending"
setsid -f sh -c "$rollback" rollback "$d" "$g" "$w" </dev/null >/dev/null 2>&1 9>&-
if ! nft -f "$d/.new.nft"; then rm -f "$d/pending"; exit 3; fi
rm -f "$d/rollback-$((g - 20)).nft"
echo "generation $g$settled"
"""

_TIMER = r"""
sleep "$3"
exec 9>>"$1/lock"
flock 9
if [ "$(cat "$1/pending" 2>/dev/null)" = "$2" ]; then
  nft -f "$1/rollback-$2.nft" && rm -f "$1/pending" && echo "$2" > "$1/rolled-back"
fi
"""

_SETTLE = r"""
d=$1; g=$2; how=$3
exec 9>>"$d/lock"
flock -w 60 9 || { echo "lock busy"; exit 4; }
if [ "$(cat "$d/pending" 2>/dev/null)" != "$g" ]; then
  live=$(cat "$d/generation" 2>/dev/null); back=$(cat "$d/rolled-back" 2>/dev/null)
  echo "not pending; live generation $live; rolled back $back"
  exit 0
fi
if [ "$how" = confirm ]; then
  cat > "$d/.firewall.json"
  mv -f "$d/.firewall.json" "$d/firewall.json"
else
  nft -f "$d/rollback-$g.nft"
  echo "$g" > "$d/rolled-back"
fi
rm -f "$d/pending"
echo "$how"
"""


class Nftables:
    """The ``inet <table>`` table of the host behind ``connector``; its state lives in ``state_dir`` there.

    Every switch is a generation (``state_dir/generation``). The rollback of generation G is armed *on the
    box* before the switch (a detached ``setsid sh -c 'sleep N; …'`` started through the connector): after
    ``rollback_after`` seconds it restores the ruleset that was live before G, and only if G is still the
    pending (unconfirmed) generation. Every step that reads or changes ``pending`` holds ``flock`` on
    ``state_dir/lock`` on the box, so a switch, a confirmation and a timer never interleave. A new apply
    first settles a pending generation left by a run that died or is still probing (its previous ruleset
    comes back, the safe choice) before arming its own; an apply interrupted (cancelled: SIGINT, SIGTERM)
    restores the previous ruleset at once. ``firewall.json`` is written only on confirmation, so it always
    names the policy last confirmed live.
    """

    def __init__(
        self,
        *,
        state_dir: Path | PurePosixPath,
        probe: Probe,
        connector: Connector | None = None,
        table: str = "harmony",
        rollback_after: float = 60.0,
    ) -> None:
        self.state_dir = PurePosixPath(state_dir)
        self.table = table
        self.rollback_after = rollback_after
        self._c: Connector = connector or LocalConnector(name="localhost")
        self._probe = probe
        self._lock = asyncio.Lock()

    @property
    def netns(self) -> str | None:
        return self._c.netns

    @property
    def _state_file(self) -> PurePosixPath:
        return self.state_dir / "firewall.json"

    async def firewall_state(self) -> FirewallState:
        found, listing = await asyncio.gather(
            self._c.stat_files([self._state_file], with_content=True), self._list_ruleset()
        )
        state = found[self._state_file]
        policy: FirewallPolicy | None = None
        if state.kind == "file" and state.content is not None:
            try:
                policy = FirewallPolicy.model_validate_json(state.content)
            except ValidationError as e:
                raise NftablesError(str(self._state_file), f"cannot read the last applied policy: {e}") from e
        live = parse_ruleset(listing, self.table)
        expected = None if policy is None else layout(policy)
        return FirewallState(policy=policy, in_sync=live == expected)

    async def apply_firewall_policy(self, policy: FirewallPolicy, *, must_reach: Sequence[Endpoint]) -> None:
        async with self._lock:
            generation = await self._switch(render(policy, self.table))
            settled = False
            try:
                for endpoint in must_reach:
                    problem = await self._probe(endpoint)
                    if problem is not None:
                        await self._settle(generation, "restore", b"")
                        settled = True
                        raise NftablesRolledBack(str(endpoint), problem)
                answer = await self._settle(generation, "confirm", policy.model_dump_json(indent=2).encode())
                settled = True
            finally:
                if not settled:  # interrupted (cancelled) or a probe raised: the previous ruleset, now
                    await self._settle(generation, "restore", b"")
            if answer != "confirm":
                raise self._unconfirmed(generation, answer)

    def _unconfirmed(self, generation: int, answer: str) -> NftablesError:
        if f"rolled back {generation}" in answer and f"live generation {generation};" in answer:
            return NftablesRolledBack("firewall", f"the probes outlasted the {self.rollback_after}s rollback window")
        return NftablesError(
            "firewall",
            f"generation {generation} was settled by another apply before it was confirmed ({answer}); "
            "the ruleset of the later apply stands — plan again to see where the firewall is",
        )

    async def _switch(self, ruleset: str) -> int:
        """Settle what is pending, arm the rollback of a new generation on the box, switch; its number."""
        argv = [SH.name, "-c", _SWITCH, "sh", str(self.state_dir), self.table, _seconds(self.rollback_after), _TIMER]
        result = await self._c.run_command(argv, stdin=ruleset.encode(), timeout=120)
        if not result.ok:
            detail = result.stderr.strip() or f"exited {result.exit_status}"
            raise NftablesError("nft -f", f"the ruleset was not switched in (nothing changed): {detail}")
        words = result.stdout.split()
        return int(words[words.index("generation") + 1])

    async def _settle(self, generation: int, how: str, stdin: bytes) -> str:
        argv = [SH.name, "-c", _SETTLE, "sh", str(self.state_dir), str(generation), how]
        result = await self._c.run_command(argv, stdin=stdin if how == "confirm" else None, timeout=120)
        if not result.ok:
            detail = result.stderr.strip() or result.stdout.strip() or f"exited {result.exit_status}"
            raise NftablesError("firewall", f"cannot {how} generation {generation}: {detail}")
        return result.stdout.strip()

    async def _list_ruleset(self) -> str:
        result = await self._c.read_command([NFT.name, "-j", "list", "ruleset"], timeout=30)  # with the other reads
        if not result.ok:
            raise NftablesError("nft -j list ruleset", result.stderr.strip() or f"exited {result.exit_status}")
        return result.stdout


def _seconds(value: float) -> str:
    return format(value, "g")


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
