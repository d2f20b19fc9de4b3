"""Scores for files on a host."""

from harmony.modules.files.directory import ManagedDirectory
from harmony.modules.files.managed_file import ManagedFile

__all__ = ["ManagedDirectory", "ManagedFile"]
