"""Tenants of a fleet of sites: one NATS account each, NKey users, and the control account.

A tenants home holds one folder per tenant with NKey seed files (mode 0600): ``leaf.nk`` (what the tenant's
leaf connections present to the hub), ``operator.nk`` (the tenant's own operator: sets up its streams, may
run its rollouts) and ``devices/<device>.nk``; and ``control.nk``, the control account's user. Only public
keys go into server configurations. A device user is confined within its tenant's account as a fleet device
is (``credentials.device_permissions``: its own desired keys, state keys, heartbeat, inbox and commands);
between tenants, the account boundary does the rest (see ``harmony.infra.nats.accounts``).
"""

from __future__ import annotations

from pathlib import Path

from harmony.domain.errors import InvalidValueError
from harmony.fleet.credentials import device_permissions
from harmony.fleet.records import check_token
from harmony.infra.nats.accounts import AccountsPlan, NkeyUser, TenantAccount, new_user_seed, public_key


class TenantsHome:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def control_seed(self) -> Path:
        return self._seed(self.path / "control.nk")

    def tenant_dir(self, tenant: str) -> Path:
        return self.path / "tenants" / check_token("tenant", tenant)

    def add_tenant(self, tenant: str) -> Path:
        folder = self.tenant_dir(tenant)
        self._seed(folder / "leaf.nk")
        self._seed(folder / "operator.nk")
        return folder

    def operator_seed(self, tenant: str) -> Path:
        return self._existing(self.tenant_dir(tenant) / "operator.nk", f"tenant {tenant}")

    def add_device(self, tenant: str, device: str) -> Path:
        """The device's seed file (created once): what the device alone keeps."""
        self._existing(self.tenant_dir(tenant) / "operator.nk", f"tenant {tenant}")
        return self._seed(self.tenant_dir(tenant) / "devices" / f"{check_token('device', device)}.nk")

    def device_seed(self, tenant: str, device: str) -> Path:
        return self._existing(self.tenant_dir(tenant) / "devices" / f"{check_token('device', device)}.nk", "device")

    def tenants(self) -> list[str]:
        folder = self.path / "tenants"
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.exists() else []

    def plan(self) -> AccountsPlan:
        """The accounts every server of the fleet carries: each tenant's users, and the control account."""
        tenants: list[TenantAccount] = []
        for tenant in self.tenants():
            folder = self.tenant_dir(tenant)
            devices = sorted((folder / "devices").glob("*.nk")) if (folder / "devices").exists() else []
            tenants.append(
                TenantAccount(
                    name=tenant, leaf_seed=folder / "leaf.nk", operator_seed=folder / "operator.nk",
                    devices=tuple(NkeyUser(public_key(p), device_permissions(p.stem)) for p in devices),
                )
            )  # fmt: skip
        return AccountsPlan(tenants=tuple(tenants), control_users=(NkeyUser(public_key(self.control_seed)),))

    @staticmethod
    def _seed(path: Path) -> Path:
        if not path.exists():
            new_user_seed(path)
        return path

    @staticmethod
    def _existing(path: Path, what: str) -> Path:
        if not path.exists():
            raise InvalidValueError(what, path.stem, f"one added to the tenants home {path.parents[1]}")
        return path
