"""Scores for network boot."""

from harmony.modules.boot.scripts import BootScripts

__all__ = ["BootScripts"]
