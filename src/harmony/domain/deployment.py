"""A deployment: one topology and the Scores (and smoke tests) to run on it, checked by the type checker.

``Deployment(topology=LinuxHost.local(), scores=[...])`` is a type error unless the topology provides every
capability each Score needs. ``validate()`` checks what types cannot: unique Score names, dependencies
declared before their dependents, smoke tests for Scores that are part of the deployment.
``topology`` may also be a ``HostGroup[T]``: the same Scores on every host of the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from harmony.domain.companion import Verification
from harmony.domain.errors import DeploymentError
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
    def __new__(cls, *, topology: T | HostGroup[T], scores: object, smoke_tests: object = ()) -> Deployment[T]:
        return super().__new__(cls)

    def __init__(  # pyright: ignore[reportInconsistentConstructor]  # on purpose, see above
        self, *, topology: T | HostGroup[T], scores: Sequence[Score[T]], smoke_tests: Sequence[Verification] = ()
    ) -> None:
        self.topology: Final = topology
        self.scores: Final = tuple(scores)
        self.smoke_tests: Final = tuple(smoke_tests)

    def validate(self) -> None:
        """Raise ``DeploymentError`` naming the offending Scores if the run order cannot work."""
        validate_order(self.scores)
        names = {s.name for s in self.scores}
        for v in self.smoke_tests:
            if v.score.name not in names:
                raise DeploymentError(f"smoke test {v.test_name} checks {v.score.name}, which is not deployed")


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
