# fails: type check
"""A misspelled Score field is not silently ignored."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedFile

motd = ManagedFile(path=PurePosixPath("/etc/motd"), contents="hello\n")  # expect-error
