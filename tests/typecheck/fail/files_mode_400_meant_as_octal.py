# fails: type check
"""``mode=400`` meant as 0o400 (owner read-only); as decimal it is 0o620, a mode no range check can tell apart."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedFile

key = ManagedFile(path=PurePosixPath("/etc/ssl/private/site.key"), content="", mode=400)  # expect-error
