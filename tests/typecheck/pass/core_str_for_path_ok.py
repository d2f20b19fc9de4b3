"""Fixed: a managed file's path given as a string instead of a PurePosixPath."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedFile

motd = ManagedFile(path=PurePosixPath("/etc/motd"), content="hi\n")
