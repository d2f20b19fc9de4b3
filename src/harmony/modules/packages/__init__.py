"""Scores for system packages."""

from harmony.modules.packages.debian_package import DebianPackage

__all__ = ["DebianPackage"]
