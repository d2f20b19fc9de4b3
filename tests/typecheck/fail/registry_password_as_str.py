# fails: type check
"""A registry account's password given as a plain string instead of a Secret."""

from __future__ import annotations

from harmony.domain.capabilities.registry import AccountName, RegistryAccount

account = RegistryAccount(user=AccountName("ci"), password="hunter2")  # expect-error
