"""Fixed: a registry account's password given as a plain string instead of a Secret."""

from __future__ import annotations

from harmony.domain.capabilities.registry import AccountName, RegistryAccount
from harmony.domain.secret import Secret

account = RegistryAccount(user=AccountName("ci"), password=Secret("hunter2"))
