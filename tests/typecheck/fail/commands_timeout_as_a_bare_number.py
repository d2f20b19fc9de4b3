# fails: type check
"""A command's timeout as a bare 3600."""

from harmony.modules.commands import Command

migrate = Command(argv=("shop-migrate", "--all"), timeout=3600)  # expect-error
