"""Exhaustive handling of every Outcome status."""

from __future__ import annotations

from typing import assert_never

from harmony import Outcome, Status


def exit_code(outcome: Outcome) -> int:
    match outcome.status:
        case Status.SUCCESS | Status.NOOP:
            return 0
        case Status.FAILURE:
            return 1
        case _:
            assert_never(outcome.status)
