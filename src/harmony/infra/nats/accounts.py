"""Tenants as NATS accounts in the servers' configuration, users as NKeys, and the control account's imports.

Why accounts in the configuration rather than JWTs and a resolver: Harmony already writes every server's
configuration (hub and sites) and reloads it, so accounts there need no operator key, no account JWTs to sign
and push, and no resolver to run or keep in sync at each site, which must keep working cut off from the hub.
The cost: adding a user means rewriting the configuration and reloading (SIGHUP keeps connections); revocation
is the same. Users authenticate with NKeys (a signed nonce: the server keeps only public keys), never with a
password; the seed file (mode 0600) stays with its holder.

An account is a namespace: a subject, a stream or a KV bucket of one account does not exist for another,
whatever its name; nothing crosses unless one account exports and the other imports it. Tenants export
nothing to each other. The control account ``CONTROL`` imports from each tenant exactly what the hub's control
side uses, each under the tenant's name as a prefix (``<tenant>.``):

- service ``$JS.API.>`` (the tenant's JetStream at the hub: streams, consumers, reads),
- service ``$JS.*.API.INFO`` (whether a site's JetStream answers: its link is up),
- service ``hub.out.>`` (writes into the tenant's per-site outboxes),
- service ``$KV.sites_devices.>`` and ``$KV.sites_rollouts.>`` (the tenant's device registry and rollouts),
- stream ``deliver.control.>`` (where consumers the control side creates in the tenant deliver).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import nkeys  # pyright: ignore[reportMissingTypeStubs]  # nkeys ships no stubs; two calls, typed below

from harmony.infra.state_files import write_atomic

CONTROL_ACCOUNT = "CONTROL"
CONTROL_DELIVER = "deliver.control"
CONTROL_SERVICES = ("$JS.API.>", "$JS.*.API.INFO", "hub.out.>", "$KV.sites_devices.>", "$KV.sites_rollouts.>")


def new_user_seed(path: Path) -> str:
    """Create an NKey user, its seed written to ``path`` (mode 0600); its public key (``U…``)."""
    seed: bytes = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)  # pyright: ignore[reportUnknownMemberType]  # untyped parameters
    write_atomic(path, seed.decode() + "\n", mode=0o600, directory_mode=0o700)
    return public_key(path)


def public_key(seed_file: Path) -> str:
    """The public key of the NKey whose seed is in ``seed_file``."""
    pair = nkeys.from_seed(bytearray(seed_file.read_text().strip().encode()))  # pyright: ignore[reportUnknownMemberType]  # untyped parameter
    key = cast(bytes, pair.public_key)  # annotated as a VerifyKey, returns the encoded key (b"U…")
    return key.decode()


@dataclass(frozen=True)
class NkeyUser:
    public_key: str
    permissions: Mapping[str, object] | None = None

    def entry(self) -> dict[str, object]:
        found: dict[str, object] = {"nkey": self.public_key}
        if self.permissions is not None:
            found["permissions"] = dict(self.permissions)
        return found


@dataclass(frozen=True)
class TenantAccount:
    """One tenant: the seeds of its sites' leaf connections and of its operator, and its devices.

    The operator is a user of the tenant's account at the hub and at every site (it sets up the tenant's
    streams and runs its rollouts); devices are users at sites only, each with its own ``permissions``.
    """

    name: str
    leaf_seed: Path
    operator_seed: Path
    devices: tuple[NkeyUser, ...] = ()

    @property
    def hub_users(self) -> tuple[NkeyUser, ...]:
        return (NkeyUser(public_key(self.leaf_seed)), NkeyUser(public_key(self.operator_seed)))

    @property
    def site_users(self) -> tuple[NkeyUser, ...]:
        return (NkeyUser(public_key(self.operator_seed)), *self.devices)


@dataclass(frozen=True)
class AccountsPlan:
    tenants: tuple[TenantAccount, ...]
    control_users: tuple[NkeyUser, ...] = field(default=())

    def hub_block(self) -> str:
        """The hub servers' ``accounts``: each tenant (its leaf user and hub users), and ``CONTROL``."""
        accounts: dict[str, object] = {}
        for t in self.tenants:
            exports: list[dict[str, object]] = [{"service": s, "accounts": [CONTROL_ACCOUNT]} for s in CONTROL_SERVICES]
            exports.append({"stream": f"{CONTROL_DELIVER}.>", "accounts": [CONTROL_ACCOUNT]})
            accounts[t.name] = {
                "jetstream": "enabled",
                "users": [u.entry() for u in t.hub_users],
                "exports": exports,
            }
        if self.control_users:
            accounts[CONTROL_ACCOUNT] = {
                "users": [u.entry() for u in self.control_users],
                "imports": [i for t in self.tenants for i in control_imports(t.name)],
            }
        return "accounts: " + json.dumps(accounts, indent=1) + "\n"

    def site_block(self) -> str:
        """A site server's ``accounts``: each tenant with its users at sites (devices, local operators)."""
        accounts = {t.name: {"jetstream": "enabled", "users": [u.entry() for u in t.site_users]} for t in self.tenants}
        return "accounts: " + json.dumps(accounts, indent=1) + "\n"


def control_imports(tenant: str) -> list[dict[str, object]]:
    """What ``CONTROL`` imports from ``tenant``, each under ``<tenant>.``: nothing more."""
    imports: list[dict[str, object]] = [
        {"service": {"account": tenant, "subject": s}, "to": f"{tenant}.{s}"} for s in CONTROL_SERVICES
    ]
    imports.append({"stream": {"account": tenant, "subject": f"{CONTROL_DELIVER}.>"}, "prefix": tenant})
    return imports
