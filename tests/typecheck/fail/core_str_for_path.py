# fails: type check
"""A managed file's path given as a string instead of a PurePosixPath."""

from harmony.modules.files import ManagedFile

motd = ManagedFile(path="/etc/motd", content="hi\n")  # expect-error
