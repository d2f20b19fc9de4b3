"""A deployment: one topology and the Scores (and smoke tests) to run on it, checked by the type checker.

``Deployment(topology=LinuxHost.local(), scores=[...])`` is a type error unless the topology provides every
capability each Score needs. ``T`` carries no ``Topology`` bound on purpose: pyright cannot solve a
Protocol-bounded ``T`` from a contravariant use, so the loader checks that the topology is a ``Topology``.
``topology`` may also be a ``HostGroup[T]``: the same Scores on every host of the group.
``validate()`` checks what types cannot: unique Score names, dependencies declared before their dependents,
smoke tests for Scores that are part of the deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from harmony.domain.companion import Verification
from harmony.domain.errors import DeploymentError
from harmony.domain.host_group import HostGroup
from harmony.domain.score import AnyScore, Score


@dataclass(frozen=True)
class Deployment[T]:
    topology: T | HostGroup[T]
    scores: Sequence[Score[T]]
    smoke_tests: Sequence[Verification] = field(default=())

    def validate(self) -> None:
        """Raise ``DeploymentError`` naming the offending Scores if the run order cannot work."""
        validate_order(self.scores)
        names = {s.name for s in self.scores}
        for v in self.smoke_tests:
            if v.score.name not in names:
                raise DeploymentError(f"smoke test {v.test_name} checks {v.score.name}, which is not deployed")


def validate_order(scores: Sequence[AnyScore]) -> None:
    """Names are unique and every dependency comes earlier in ``scores``."""
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
