# fails: type check
"""A bare ``0o640``: right by luck, but it reads the same as the decimal mistake, so a mode is a FileMode."""

from pathlib import PurePosixPath

from harmony.modules.files import ManagedDirectory

logs = ManagedDirectory(path=PurePosixPath("/var/log/shop"), mode=0o750, owner="shop")  # expect-error
