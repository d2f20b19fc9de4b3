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
from typing import Final, cast

from harmony.domain.companion import Verification
from harmony.domain.errors import DeploymentError, HarmonyError
from harmony.domain.host_group import HostGroup
from harmony.domain.score import AnyScore, Score
from harmony.domain.topology import Topology


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

    def validate(self) -> None:
        """Raise ``DeploymentError`` naming the offending Scores (and host) if the run order cannot work."""
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


def _scores_of[T: Topology](scores: Callable[[T], Sequence[Score[T]]], host: T) -> tuple[Score[T], ...]:
    try:
        return tuple(scores(host))
    except (HarmonyError, ValueError) as e:  # pydantic's ValidationError is a ValueError: a bad per-host value
        raise DeploymentError(f"the Scores for host {host.name} cannot be built: {e}") from e


def validate_order(scores: Sequence[AnyScore]) -> None:
    """Names are unique, every dependency comes earlier in ``scores``, and Scores of one class that run
    together pass their ``check_alongside``."""
    seen: set[str] = set()
    for score in scores:
        if score.name in seen:
            raise DeploymentError(f"two Scores are named {score.name!r}; Score names must be unique")
        missing = [d for d in score.depends_on() if d not in seen]
        if missing:
            raise DeploymentError(
                f"{score.name} depends on {', '.join(missing)}, which must come earlier in the Score list"
            )
        seen.add(score.name)
    by_class: dict[type[AnyScore], list[AnyScore]] = {}
    for score in scores:
        by_class.setdefault(type(score), []).append(score)
    for cls, group in by_class.items():
        if len(group) > 1:
            cls.check_alongside(group)
