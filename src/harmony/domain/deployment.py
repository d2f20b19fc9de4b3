"""A deployment: one topology and the Scores (and smoke tests) to run on it, checked by the type checker.

``Deployment(topology=LinuxHost.local(), scores=[...])`` is a type error unless the topology provides every
capability each Score needs. ``validate()`` checks what types cannot: unique Score names, dependencies
declared before their dependents, smoke tests for Scores that are part of the deployment.
``topology`` may also be a ``HostGroup[T]``: the same Scores on every host of the group, or, when ``scores``
is a function of the host, each host's own Scores. The function runs once per host when the deployment is
built (never again at plan or apply time), so a value that is wrong for one host fails the load, naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final, cast

from harmony.domain import consistency
from harmony.domain.companion import Verification
from harmony.domain.consistency import Finding, InconsistentDeploymentError
from harmony.domain.errors import DeploymentError, HarmonyError
from harmony.domain.host_group import HostGroup
from harmony.domain.inventory import resources_of
from harmony.domain.origin import origin_of
from harmony.domain.score import AnyScore, Score
from harmony.domain.topology import Topology, management_ports_of, served_ports_of


class Deployment[T: Topology]:
    """A topology and the Scores to run on it, in order, with the smoke tests that gate them."""

    # pyright solves T from every argument of one call, and Scores that need different capabilities put
    # different upper bounds on T, which it cannot combine (that needs an intersection type): a list mixing
    # a DnsServer Score and a LoadBalancer Score would be rejected even on a topology that provides both.
    # A __new__ that takes T from the topology alone makes pyright solve T there, then check the Scores in
    # __init__ against that T. mypy solves it either way.
    def __new__(
        cls,
        *,
        topology: T | HostGroup[T],
        scores: object,
        smoke_tests: object = (),
    ) -> Deployment[T]:
        return super().__new__(cls)

    def __init__(  # pyright: ignore[reportInconsistentConstructor]  # on purpose, see above
        self,
        *,
        topology: T | HostGroup[T],
        scores: Sequence[Score[T]] | Callable[[T], Sequence[Score[T]]],
        smoke_tests: Sequence[Verification] = (),
    ) -> None:
        self.topology: Final = topology
        self.smoke_tests: Final = tuple(smoke_tests)
        hosts: Sequence[T] = (
            cast(HostGroup[T], topology).hosts  # narrowed from T | HostGroup[T]
            if isinstance(topology, HostGroup)
            else (topology,)
        )
        self._shared: tuple[Score[T], ...] | None = None
        if not callable(scores):
            self._shared = tuple(scores)
            self._by_host = tuple((h, self._shared) for h in hosts)
        else:
            self._by_host = tuple((h, _scores_of(scores, h)) for h in hosts)
            if not isinstance(topology, HostGroup):
                self._shared = self._by_host[0][1]

    @property
    def varies_per_host(self) -> bool:
        """True when the Scores are a function of the host (on a ``HostGroup``)."""
        return self._shared is None

    @property
    def scores(self) -> tuple[Score[T], ...]:
        """The Scores of every host; for Scores that vary per host, use ``by_host()`` or ``scores_on(host)``."""
        if self._shared is None:
            raise DeploymentError(
                "this deployment's Scores vary per host: use deployment.by_host() or deployment.scores_on(host)"
            )
        return self._shared

    def by_host(self) -> tuple[tuple[T, tuple[Score[T], ...]], ...]:
        """Each host (the topology itself, when it is not a group) with its Scores, in the group's order."""
        return self._by_host

    def scores_on(self, host: T) -> tuple[Score[T], ...]:
        """The Scores of ``host``, one of this deployment's hosts (by identity)."""
        for h, scores in self._by_host:
            if h is host:
                return scores
        raise DeploymentError(f"{getattr(host, 'name', host)!r} is not a host of this deployment")

    def validate(self, *, strict: bool = False) -> None:
        """Raise ``DeploymentError`` naming the offending Scores (and host) if the run order cannot work,
        and ``InconsistentDeploymentError`` listing every finding when Scores contradict each other
        (with ``strict``, warnings count as errors too)."""
        names: set[str] = set()
        for host, scores in self._by_host:
            try:
                validate_order(scores)
            except DeploymentError as e:
                if not self.varies_per_host:
                    raise
                raise DeploymentError(f"on host {host.name}: {e}") from e
            names.update(s.name for s in scores)
        for v in self.smoke_tests:
            if v.score.name not in names:
                raise DeploymentError(f"smoke test {v.test_name} checks {v.score.name}, which is not deployed")
        found = self.findings()
        if any(f.severity == "error" or strict for f in found):
            raise InconsistentDeploymentError(sorted(found, key=lambda f: f.severity != "error"))

    def findings(self) -> list[Finding]:
        """Every error and warning of the deployment-wide pass (``domain.consistency``), host by host."""
        found: list[Finding] = []
        seen_hosts: dict[str, int] = {}
        for i, (host, _) in enumerate(self._by_host):
            name = str(getattr(host, "name", host))
            if name in seen_hosts:
                origin = origin_of(self.topology)
                found.append(
                    Finding(
                        severity="error",
                        rule="duplicate_host",
                        score="hosts",
                        field="hosts",
                        message=f"{name!r} is listed twice (positions {seen_hosts[name] + 1} and {i + 1}); "
                        "expected each host once (two runs at once on one machine)",
                        file=origin.file if origin else None,
                        line=origin.line if origin else None,
                    )
                )
            seen_hosts.setdefault(name, i)
        per_host: list[tuple[str, list[Finding]]] = []
        done: set[int] = set()
        for host, scores in self._by_host:
            if id(scores) in done:
                continue
            done.add(id(scores))
            per_host.append((str(getattr(host, "name", host)), consistency.check(scores)))
        for host, scores in self._by_host:
            management, served = management_ports_of(host), served_ports_of(host)
            if management or served is not None:
                name = str(getattr(host, "name", host))
                found_here = consistency.check_host_services(scores, host=name, management=management, served=served)
                per_host.append((name, found_here))
            resources = resources_of(host)
            if resources is not None:
                name = str(getattr(host, "name", host))
                per_host.append((name, consistency.check_resources(scores, host=name, has=resources)))
        for host_name, host_findings in per_host:
            for f in host_findings:
                found.append(f if not self.varies_per_host else replace(f, score=f"{host_name}: {f.score}"))
        return found


def _where(score: AnyScore) -> str:
    origin = origin_of(score)
    return f"{origin}: " if origin else ""


def _scores_of[T: Topology](scores: Callable[[T], Sequence[Score[T]]], host: T) -> tuple[Score[T], ...]:
    try:
        return tuple(scores(host))
    except (HarmonyError, ValueError) as e:  # pydantic's ValidationError is a ValueError: a bad per-host value
        raise DeploymentError(f"the Scores for host {host.name} cannot be built: {e}") from e


def validate_order(scores: Sequence[AnyScore]) -> None:
    """Names are unique, every dependency names a Score that comes earlier in ``scores``, Scores of one class
    that run together pass their ``check_alongside``, and the claims of all of them agree (no error finding
    of ``domain.consistency``)."""
    seen: set[str] = set()
    every = {s.name for s in scores}
    for score in scores:
        where = _where(score)
        if score.name in seen:
            raise DeploymentError(
                f"{where}two Scores are named {score.name!r}; expected unique Score names (one Score per thing)"
            )
        unknown = [d for d in score.depends_on() if d not in every]
        if unknown:
            raise DeploymentError(
                f"{where}{score.name} depends on {', '.join(map(repr, unknown))}: unknown Score name(s); "
                f"expected one of {', '.join(sorted(every - {score.name})) or 'no other Score'}"
            )
        missing = [d for d in score.depends_on() if d not in seen]
        if missing:
            raise DeploymentError(
                f"{where}{score.name} depends on {', '.join(missing)}, which must come earlier in the Score list; "
                f"expected it before {score.name}"
            )
        seen.add(score.name)
    by_class: dict[type[AnyScore], list[AnyScore]] = {}
    for score in scores:
        by_class.setdefault(type(score), []).append(score)
    for cls, group in by_class.items():
        if len(group) > 1:
            cls.check_alongside(group)
    errors = [f for f in consistency.check(scores) if f.severity == "error"]
    if errors:
        raise InconsistentDeploymentError(errors)
