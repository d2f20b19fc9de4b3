# fails: type check
"""A file mode given as a string."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedFile

conf = ManagedFile(path=PurePosixPath("/etc/app.conf"), mode="0644")  # expect-error
