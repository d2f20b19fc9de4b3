# fails: type check
"""A managed file without its path."""

from harmony.modules.files import ManagedFile

motd = ManagedFile(content="hello\n")  # expect-error
