"""Fixed: a file mode given as a string."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedFile

conf = ManagedFile(path=PurePosixPath("/etc/app.conf"), mode=0o644)
