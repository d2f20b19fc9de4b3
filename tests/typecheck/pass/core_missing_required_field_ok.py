"""Fixed: a managed file without its path."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedFile

motd = ManagedFile(path=PurePosixPath("/etc/motd"), content="hello\n")
