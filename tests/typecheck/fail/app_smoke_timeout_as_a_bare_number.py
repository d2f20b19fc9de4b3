# fails: type check
"""A smoke check's timeout as a bare 60."""

from harmony.modules.application import HttpCheck

smoke = HttpCheck(path="/health", timeout=60)  # expect-error
