"""Fixed: a file mode given as a string."""

from pathlib import PurePosixPath

from harmony.domain.units import FileMode
from harmony.modules.files import ManagedFile

conf = ManagedFile(path=PurePosixPath("/etc/app.conf"), mode=FileMode("0644"))
