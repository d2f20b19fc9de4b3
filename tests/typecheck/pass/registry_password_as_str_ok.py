"""Fixed: a registry account's password given as a plain string instead of a Secret."""

from __future__ import annotations

from harmony.config.secret import Secret
from harmony.domain.capabilities.registry import AccountName, RegistryAccount

account = RegistryAccount(user=AccountName("ci"), password=Secret("hunter2"))
