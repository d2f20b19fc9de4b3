"""The deployment-wide pass: relate the claims of every Score on one host and report what cannot work.

Rules, each a finding class (``Finding.rule``):

- paths: one path made two different things (``path_kind_conflict``) or by two Scores
  (``path_claimed_twice``); a path under another Score's symlink (``path_under_symlink``) or regular file
  (``path_under_file``); symlinks that point at each other (``symlink_loop``);
- names: a frontend name, DNS owner, container name, exposed hostname, uid, gid or MAC taken twice
  (``duplicate_<namespace>``);
- listeners: two listeners on one port (``port_clash``); a firewall port forward that takes a listener's
  traffic (``forward_shadows_listener``); a default-deny firewall that lets nobody reach a listener
  (``firewall_blocks_listener``);
- firewall rules: a rule an earlier rule matches entirely, so it never applies (``firewall_rule_shadowed``:
  an error for a deny behind an allow, which lets in what was meant to be blocked, a warning for an allow
  behind a deny, which fails closed as a temporary block does; ``firewall_rule_redundant``, a warning when the
  actions agree); a default-deny
  policy that lets nobody open a connection to a ``must_reach`` port or to the port Harmony itself reaches
  the host on (``firewall_cuts_management``); with the host's served ports known, an allow rule for a port
  nothing on the host serves (``firewall_opens_unused_port``, a warning);
- DNS: a CNAME on a name that has other records (``cname_with_other_records``), CNAMEs in a loop
  (``cname_loop``), a CNAME or SRV target in a zone served here that no Score gives a record
  (``dangling_dns_target``);
- accounts: a Score that needs a user or group another Score removes (``uses_removed_account``);
- resources, when the host's are known (inventory ``cpus``/``memory``): the limits of the Scores on one
  host add up to more memory or CPUs than it has (``memory_exceeds_host``, ``cpus_exceed_host``);
- suspicions declared by a Score itself (warnings).

Pure: no I/O, so ``harmony check`` can run it anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from harmony.domain.claims import (
    AccountClaim,
    AccountUse,
    Claim,
    DnsRecordClaim,
    DnsZoneClaim,
    FirewallClaim,
    ForwardClaim,
    ListenClaim,
    NameClaim,
    PathClaim,
    ResourceClaim,
    Severity,
    Suspicion,
)
from harmony.domain.errors import DeploymentError
from harmony.domain.inventory import HostResources
from harmony.domain.origin import origin_of
from harmony.domain.units import format_size

if TYPE_CHECKING:
    from harmony.domain.score import AnyScore


@dataclass(frozen=True)
class Finding:
    """One problem: ``rule`` is its class, ``score`` the Score it is reported on (with where it was built)."""

    severity: Severity
    rule: str
    score: str
    field: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        subject = "".join(f"{part}: " for part in (self.score, self.field) if part)
        return f"{where}{self.severity} [{self.rule}] {subject}{self.message}"


class InconsistentDeploymentError(DeploymentError):
    """Scores that cannot all be applied as declared; ``findings`` lists every error (and warning)."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        shown = errors or list(self.findings)
        super().__init__(f"{len(shown)} problem(s) found before anything ran:\n" + "\n".join(f"  {f}" for f in shown))


def finding(severity: Severity, rule: str, score: AnyScore, field: str, message: str) -> Finding:
    origin = origin_of(score)
    return Finding(
        severity=severity,
        rule=rule,
        score=score.name,
        field=field,
        message=message,
        file=origin.file if origin else None,
        line=origin.line if origin else None,
    )


type Owned[C] = list[tuple[AnyScore, C]]


# Loading, validating and running one deployment asks about the same (immutable) Scores up to four
# times; on 1,000 Scores each pass cost 40 ms.
_last: tuple[tuple[AnyScore, ...], list[Finding]] | None = None


def check(scores: Sequence[AnyScore]) -> list[Finding]:
    """Every finding for ``scores``, the Scores of one host, in a stable order."""
    global _last
    key = tuple(scores)
    if _last is not None and len(_last[0]) == len(key) and all(a is b for a, b in zip(_last[0], key, strict=True)):
        return list(_last[1])
    result = _check(key)
    _last = (key, result)
    return list(result)


def _check(scores: Sequence[AnyScore]) -> list[Finding]:
    claims: list[tuple[AnyScore, Claim]] = [(s, c) for s in scores for c in s.claims()]
    found: list[Finding] = []
    found += _paths([(s, c) for s, c in claims if isinstance(c, PathClaim)])
    found += _names([(s, c) for s, c in claims if isinstance(c, NameClaim)])
    listeners = [(s, c) for s, c in claims if isinstance(c, ListenClaim)]
    found += _listeners(listeners)
    found += _forwards([(s, c) for s, c in claims if isinstance(c, ForwardClaim)], listeners)
    found += _firewall([(s, c) for s, c in claims if isinstance(c, FirewallClaim)], listeners)
    found += _dns(
        [(s, c) for s, c in claims if isinstance(c, DnsZoneClaim)],
        [(s, c) for s, c in claims if isinstance(c, DnsRecordClaim)],
    )
    found += _accounts(
        [(s, c) for s, c in claims if isinstance(c, AccountClaim)],
        [(s, c) for s, c in claims if isinstance(c, AccountUse)],
    )
    found += [finding("warning", c.rule, s, c.field, c.message) for s, c in claims if isinstance(c, Suspicion)]
    unique: dict[str, Finding] = {}
    for f in found:
        unique.setdefault(str(f), f)
    return list(unique.values())


def _ancestors(path: PurePosixPath) -> Iterator[str]:
    """``str`` of each of ``path.parents``, nearest first (string slicing: pathlib cost 80 ms per 1,000)."""
    text = str(path)
    if not text.startswith("/"):
        yield from (str(p) for p in path.parents)
        return
    while text != "/":
        text = text[: text.rfind("/")] or "/"
        yield text


def _paths(claims: Owned[PathClaim]) -> Iterable[Finding]:
    by_path: dict[str, list[tuple[AnyScore, PathClaim]]] = {}
    for s, c in claims:
        by_path.setdefault(str(c.path), []).append((s, c))
    for path, owners in by_path.items():
        first_score, first = owners[0]
        for s, c in owners[1:]:
            if s is first_score:
                continue
            if c.kind != first.kind:
                yield finding(
                    "error",
                    "path_kind_conflict",
                    s,
                    c.field,
                    f"{path!r} is made a {c.kind} here and a {first.kind} by {first_score.name}; "
                    "expected one kind of thing per path",
                )
            else:
                yield finding(
                    "error",
                    "path_claimed_twice",
                    s,
                    c.field,
                    f"{path!r} is also managed by {first_score.name}; expected one Score per path "
                    "(each apply would undo the other)",
                )
    parents = {
        path: next(o for o in owners if o[1].kind in ("symlink", "file"))
        for path, owners in by_path.items()
        if any(o[1].kind in ("symlink", "file") for o in owners)
    }
    for s, c in claims:
        for ancestor in _ancestors(c.path) if parents else ():
            owner = parents.get(ancestor)
            if owner is None or owner[0] is s:
                continue
            rule = "path_under_symlink" if owner[1].kind == "symlink" else "path_under_file"
            yield finding(
                "error",
                rule,
                s,
                c.field,
                f"{str(c.path)!r} lies under {ancestor!r}, which {owner[0].name} makes a {owner[1].kind}; "
                "expected a path under a directory",
            )
            break
    links = {str(c.path): (s, c) for s, c in claims if c.kind == "symlink" and c.link_target is not None}
    reported: set[frozenset[str]] = set()
    for path, (s, c) in links.items():
        chain = [path]
        target = resolve_link(c.path, c.link_target or "")
        while target in links and target not in chain:
            chain.append(target)
            nxt = links[target][1]
            target = resolve_link(nxt.path, nxt.link_target or "")
        loop = frozenset(chain[chain.index(target) :]) if target in chain else None
        if loop is not None and len(loop) > 1 and loop not in reported:
            reported.add(loop)
            yield finding(
                "error", "symlink_loop", s, "target", f"{' -> '.join([*chain, target])}; expected a chain that ends"
            )


def resolve_link(link: PurePosixPath, target: str) -> str:
    """Where the symlink ``link`` pointing to ``target`` leads, lexically (``..`` undone, no host lookup)."""
    joined = PurePosixPath(target) if target.startswith("/") else link.parent / target
    parts: list[str] = []
    for part in joined.parts[1:]:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


def _names(claims: Owned[NameClaim]) -> Iterable[Finding]:
    seen: dict[tuple[str, str], AnyScore] = {}
    for s, c in claims:
        key = (c.namespace, c.name)
        other = seen.get(key)
        if other is None:
            seen[key] = s
        elif other is not s:
            yield finding(
                "error",
                "duplicate_" + c.namespace.replace(" ", "_").lower(),
                s,
                c.field,
                f"{c.name!r} is also the {c.namespace} of {other.name}; expected each {c.namespace} once",
            )


def _listeners(claims: Owned[ListenClaim]) -> Iterable[Finding]:
    for i, (s, c) in enumerate(claims):
        for other_score, other in claims[:i]:
            if other_score is not s and c.clashes(other):
                yield finding(
                    "error",
                    "port_clash",
                    s,
                    c.field,
                    f"{c.what} would listen on {c.endpoint}, which {other.what} ({other_score.name}) holds "
                    f"on {other.endpoint}; expected a free port",
                )
                break


def _forwards(forwards: Owned[ForwardClaim], listeners: Owned[ListenClaim]) -> Iterable[Finding]:
    for s, fwd in forwards:
        for ls, listener in listeners:
            if listener.address.is_loopback:
                continue
            if listener.protocol == fwd.protocol and listener.port == fwd.port:
                yield finding(
                    "error",
                    "forward_shadows_listener",
                    s,
                    fwd.field,
                    f"{fwd.what} takes {fwd.protocol}/{fwd.port} before {listener.what} ({ls.name}) can answer "
                    "on it; expected a forward on a port nothing on this host listens on",
                )


def _firewall(firewalls: Owned[FirewallClaim], listeners: Owned[ListenClaim]) -> Iterable[Finding]:
    for s, fw in firewalls:
        yield from _shadowed_rules(s, fw)
        yield from _cut_off(s, fw, fw.must_reach, "on this host, which must_reach lists")
    for s, fw in firewalls:
        policy = fw.policy
        if not policy.default_deny:
            continue
        for ls, listener in listeners:
            if listener.address.is_loopback:
                continue
            allowed = any(
                r.action == "allow"
                and r.destination.is_local
                and r.protocol in (listener.protocol, "any")
                and (not r.ports or listener.port in r.ports)
                for r in policy.rules
            )
            if not allowed:
                yield finding(
                    "error",
                    "firewall_blocks_listener",
                    s,
                    "policy.rules",
                    f"no rule allows {listener.protocol}/{listener.port} to this host, where {listener.what} "
                    f"({ls.name}) listens, and unmatched traffic is denied; expected an allow rule to LOCAL "
                    f"for port {listener.port}",
                )


def _dns(zones: Owned[DnsZoneClaim], records: Owned[DnsRecordClaim]) -> Iterable[Finding]:
    names: dict[str, list[tuple[AnyScore, DnsRecordClaim]]] = {}
    for s, r in records:
        names.setdefault(r.name, []).append((s, r))
    for name, owners in names.items():
        cnames = [(s, r) for s, r in owners if r.type == "CNAME"]
        if cnames and len(owners) > 1:
            cs, cname = cnames[0]
            other_score, other = next((s, r) for s, r in owners if r is not cname)
            yield finding(
                "error",
                "cname_with_other_records",
                other_score,
                other.field,
                f"{other.type} {name} shares its name with the CNAME of {cname.owner} ({cs.name}); "
                "expected no other record on a CNAME's name",
            )
    aliases = {r.name: (s, r) for s, r in records if r.type == "CNAME" and r.target is not None}
    reported: set[frozenset[str]] = set()
    for start, (s, r) in aliases.items():
        chain = [start]
        target = r.target
        while target in aliases and target not in chain:
            chain.append(target)
            target = aliases[target][1].target
        if target in chain:
            loop = frozenset(chain[chain.index(target) :])
            if loop not in reported:
                reported.add(loop)
                yield finding(
                    "error",
                    "cname_loop",
                    s,
                    r.field,
                    f"{' -> '.join([*chain, target])}; expected a CNAME chain that ends",
                )
    served = {z.zone for _, z in zones}
    for s, r in records:
        if r.target is None or r.target in names:
            continue
        zone = next((z for z in served if r.target == z or r.target.endswith("." + z)), None)
        if zone is not None:
            yield finding(
                "error",
                "dangling_dns_target",
                s,
                r.field,
                f"{r.type} {r.name} points to {r.target}, which has no record in {zone}, a zone served here; "
                f"expected a record for {r.target}",
            )


def _accounts(accounts: Owned[AccountClaim], uses: Owned[AccountUse]) -> Iterable[Finding]:
    removed = {(c.kind, c.name): s for s, c in accounts if not c.present}
    for s, use in uses:
        remover = removed.get((use.kind, use.name))
        if remover is not None and remover is not s:
            yield finding(
                "error",
                "uses_removed_account",
                s,
                use.field,
                f"{use.kind} {use.name!r} is removed by {remover.name}; expected a {use.kind} that exists",
            )


def check_resources(scores: Sequence[AnyScore], *, host: str, has: HostResources) -> list[Finding]:
    """Whether the resource limits of ``scores``, the Scores of ``host``, fit in what it ``has``."""
    claims = [(s, c) for s in scores for c in s.claims() if isinstance(c, ResourceClaim)]
    return list(_resources(claims, host, has))


def _resources(claims: Owned[ResourceClaim], host: str, has: HostResources) -> Iterable[Finding]:
    memory = [(s, c, c.memory) for s, c in claims if c.memory is not None]
    if has.memory is not None:
        yield from _overflow(
            memory, "memory_exceeds_host", " of memory", host, float(has.memory), lambda v: format_size(round(v))
        )
    cpus = [(s, c, c.cpus) for s, c in claims if c.cpus is not None]
    if has.cpus is not None:
        yield from _overflow(cpus, "cpus_exceed_host", "", host, has.cpus, lambda v: f"{v:g} CPU" + "s" * (v != 1))


def _overflow(
    asks: Sequence[tuple[AnyScore, ResourceClaim, float]],
    rule: str,
    what: str,
    host: str,
    has: float,
    show: Callable[[float], str],
) -> Iterable[Finding]:
    """One finding, on the Score that tips the sum over, listing every Score's share."""
    total = 0.0
    for s, c, amount in asks:
        total += amount
        if total > has:
            everyone = sum(a for _, _, a in asks)
            shares = ", ".join(f"{cs.name}{f' ({cc.what})' if cc.what else ''}: {show(a)}" for cs, cc, a in asks)
            yield finding(
                "error",
                rule,
                s,
                c.field,
                f"the Scores on host {host} ask for {show(everyone)}{what} in all ({shares}), more than its "
                f"{show(has)}; expected at most {show(has)} (lower a limit, or place a Score on another host)",
            )
            return


def _shadowed_rules(s: AnyScore, fw: FirewallClaim) -> Iterable[Finding]:
    # Imported here, as in the two functions below: only a deployment with a firewall Score needs the
    # firewall's models, and it has built them already; a run without one is spared building them.
    from harmony.domain.firewall_analysis import shadows

    rules = fw.policy.rules
    for shadow in shadows(fw.policy):
        later, earlier = rules[shadow.later], rules[shadow.earlier]
        same = shadow.same_action(fw.policy)
        opens_a_hole = later.action == "deny" and not same  # meant to block, but the earlier rule lets it in
        yield finding(
            "error" if opens_a_hole else "warning",
            "firewall_rule_redundant" if same else "firewall_rule_shadowed",
            s,
            f"policy.rules[{shadow.later}]",
            f"rule {shadow.later + 1} ({later.describe()}) never applies: rule {shadow.earlier + 1} "
            f"({earlier.describe()}) matches all its traffic first; expected "
            + ("one of the two only" if same else f"it before rule {shadow.earlier + 1}, or a narrower rule"),
        )


def _cut_off(s: AnyScore, fw: FirewallClaim, ports: Iterable[int], why: str) -> Iterable[Finding]:
    from harmony.domain.firewall_analysis import reaches_host

    for port in dict.fromkeys(ports):
        if not reaches_host(fw.policy, "tcp", port):
            yield finding(
                "error",
                "firewall_cuts_management",
                s,
                "policy.rules",
                f"no zone may open a connection to tcp/{port} {why}, and unmatched traffic is "
                f"denied: the apply would roll back, or lock Harmony out; expected an allow rule to LOCAL for "
                f"tcp/{port} from the zone the operator connects from",
            )


def check_host_services(
    scores: Sequence[AnyScore], *, host: str, management: Sequence[int], served: Sequence[tuple[str, int]] | None
) -> list[Finding]:
    """What the firewall Scores of ``scores`` do to ``host``: whether they cut the TCP ``management`` ports
    Harmony reaches it on, and (when the ports the host's own daemons serve are known) whether an allow rule
    opens a port nothing there serves."""
    claims = [(s, c) for s in scores for c in s.claims()]
    firewalls = [(s, c) for s, c in claims if isinstance(c, FirewallClaim)]
    if not firewalls:  # nothing to check, and no firewall models to build (as for the functions above)
        return []
    from harmony.domain.firewall_analysis import opened_host_ports

    found: list[Finding] = []
    for s, fw in firewalls:
        found += _cut_off(
            s, fw, [p for p in management if p not in fw.must_reach], f"on {host}, the port Harmony reaches it on"
        )
    if served is None:
        return found
    open_ports: set[tuple[str, int]] = {
        (c.protocol, c.port) for _, c in claims if isinstance(c, ListenClaim) and not c.address.is_loopback
    }
    open_ports |= {(c.protocol, c.port) for _, c in claims if isinstance(c, ForwardClaim)}
    open_ports |= set(served) | {("tcp", p) for p in management}
    for s, fw in firewalls:
        open_ports |= {("tcp", p) for p in fw.must_reach}
        for i, protocol, port in opened_host_ports(fw.policy):
            if (protocol, port) not in open_ports:
                found.append(
                    finding(
                        "warning",
                        "firewall_opens_unused_port",
                        s,
                        f"policy.rules[{i}]",
                        f"rule {i + 1} ({fw.policy.rules[i].describe()}) opens {protocol}/{port} on {host}, where no "
                        "Score listens on it and none of the host's own services does; expected a port something "
                        "serves (or remove the rule)",
                    )
                )
    return found
