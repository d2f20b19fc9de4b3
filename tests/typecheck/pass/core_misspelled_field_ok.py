"""Fixed: a misspelled Score field is not silently ignored."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedFile

motd = ManagedFile(path=PurePosixPath("/etc/motd"), content="hello\n")
