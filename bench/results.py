"""Headline figures of each benchmark, for ``bench/all.py``'s one table.

A benchmark calls ``record`` for each figure it has a target for; when ``HARMONY_BENCH_RESULTS`` names a
file (``bench/all.py`` sets it), the figure is appended there as one JSON line, otherwise nothing happens.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

type Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Figure:
    bench: str
    measure: str
    value: float
    unit: str
    target: float | None = None
    better: Better = "lower"
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.better == "lower" else self.value >= self.target


def record(
    bench: str,
    measure: str,
    value: float,
    unit: str,
    *,
    target: float | None = None,
    better: Better = "lower",
    note: str = "",
) -> None:
    """One figure: ``value`` in ``unit`` (a ratio: unit ``x``), with the target it is held to, if any."""
    path = os.environ.get("HARMONY_BENCH_RESULTS")
    if not path:
        return
    figure = Figure(bench, measure, float(value), unit, target, better, note)
    with Path(path).open("a") as f:
        f.write(json.dumps(asdict(figure)) + "\n")


def read(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
