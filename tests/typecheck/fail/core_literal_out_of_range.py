# fails: type check
"""An integer outside a Literal set: a user Score whose replica count must be 1, 3 or 5."""

from __future__ import annotations

from typing import Literal

from harmony import Interpret, ManagedFiles, Score


class Quorum(Score[ManagedFiles]):
    kind: Literal["corpus_quorum"] = "corpus_quorum"
    replicas: Literal[1, 3, 5]

    def interpret(self) -> Interpret[ManagedFiles]:
        raise NotImplementedError


q = Quorum(replicas=4)  # expect-error
