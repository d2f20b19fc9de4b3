"""Scores for files on a host."""

from harmony.modules.files.directory import ManagedDirectory
from harmony.modules.files.managed_file import ManagedFile
from harmony.modules.files.symlink import Symlink
from harmony.modules.files.template import render_template
from harmony.modules.files.upload import UploadedFile

__all__ = ["ManagedDirectory", "ManagedFile", "Symlink", "UploadedFile", "render_template"]
