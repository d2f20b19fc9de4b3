"""Plan/apply orchestration, its events and its journal."""

from harmony.maestro.journal import Journal
from harmony.maestro.runner import Maestro, RunReport, ScoreResult

__all__ = ["Journal", "Maestro", "RunReport", "ScoreResult"]
