"""Per-device NATS credentials and the server authorization that confines each device to its own keys.

A fleet home directory holds ``control.json`` (the control side's identity), ``devices/<id>.json`` (one
identity per device, handed to that device only) and ``nats-auth.conf`` (generated from both, included by
the server's configuration). Every identity is a user of the ``FLEET`` account with a random password.

What a device may do (everything else is denied by the server):
- create a consumer on ``KV_fleet_desired`` only through the subject that carries its own filter,
  ``$KV.fleet_desired.<id>.>``: it reads only its own desired state (no stream reads, no direct gets);
- publish only to ``$KV.fleet_state.<id>.>``, ``$KV.fleet_info.<id>`` and ``$KV.fleet_heartbeat.<id>``;
- read the agent releases' object store (``OBJ_fleet_agent_releases``: stream info, message gets, an ordered
  consumer): every device may read every release (they are signed, not secret), none may write one;
- subscribe only to its own inbox prefix ``_INBOX_<id>``, its command subject ``fleet.cmd.<id>.*`` and its
  own desired state as ``fleet_desired`` republishes it (``fleet.desired.<id>.>``), and answer the requests
  it receives.
The control user has no restriction. In memory a password is a ``Secret`` (masked in every repr, log, dump
and CLI output); it is revealed only into the identity files, the server authorization and the NATS
CONNECT message.

Concurrent commands (two enrolls, an enroll and a revoke) change the authorization one at a time: every
read-modify-write of the identities and ``nats-auth.conf`` holds an exclusive lock on ``auth.lock`` in the
fleet home (released by the kernel if the command is killed). Each file is replaced atomically, so a command
killed at any step leaves a valid ``nats-auth.conf`` (the previous one when it dies before rewriting it),
and ``nats-auth.conf`` is rewritten only when its content changes, so the server reloads once per change. A
device identity written by a command killed before the authorization was rewritten is taken in by the next
change (adding that device again rewrites it).

Not guaranteed: passwords are stored in clear in files of mode 0600 (nkeys or an auth callout would avoid
that); the control side is a separate user, not a separate account.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harmony.domain.errors import InvalidValueError
from harmony.domain.secret import Secret
from harmony.fleet.agent_release import RELEASES
from harmony.fleet.records import COMMANDS, DESIRED, DESIRED_LIVE, HEARTBEAT, INFO, STATE, check_token
from harmony.infra.crash_points import crash_point
from harmony.infra.run_lock import held
from harmony.infra.state_files import write_atomic

ACCOUNT = "FLEET"


class Identity(BaseModel):
    """Who connects and where: what a process needs to reach the fleet's NATS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    password: Secret
    servers: tuple[str, ...]
    inbox_prefix: str = "_INBOX"
    device: str | None = None

    def file_json(self) -> str:
        """The identity file's content, password in clear: write it only through ``_write_private``."""
        return json.dumps({**self.model_dump(mode="json"), "password": self.password.reveal()}, indent=2)


def new_password() -> Secret:
    return Secret(secrets.token_urlsafe(24))


def device_identity(device: str, servers: Sequence[str]) -> Identity:
    check_token("device", device)
    return Identity(
        user=f"device-{device}", password=new_password(), servers=tuple(servers), inbox_prefix=f"_INBOX_{device}",
        device=device,
    )  # fmt: skip


def device_permissions(device: str) -> dict[str, object]:
    return {
        "publish": {
            "allow": [
                f"$JS.API.CONSUMER.CREATE.KV_{DESIRED}.*.$KV.{DESIRED}.{device}.>",
                f"$KV.{STATE}.{device}.>",
                f"$KV.{INFO}.{device}",
                f"$KV.{HEARTBEAT}.{device}",
                *release_reads(),
            ]
        },
        "subscribe": {"allow": [f"_INBOX_{device}.>", f"{COMMANDS}.{device}.*", f"{DESIRED_LIVE}.{device}.>"]},
        "allow_responses": True,
    }


def release_reads() -> list[str]:
    """The JetStream API subjects that reading an object of the agent releases' store takes (nats-py)."""
    stream = f"OBJ_{RELEASES}"
    return [
        f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.MSG.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>",
        "$JS.API.STREAM.NAMES", f"$JS.API.CONSUMER.CREATE.{stream}", f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DELETE.{stream}.>", f"$JS.FC.{stream}.>",
    ]  # fmt: skip


def auth_config(control: Identity, devices: Sequence[Identity]) -> str:
    """The ``accounts`` block of the server configuration (JSON is valid NATS configuration syntax)."""
    users: list[dict[str, object]] = [{"user": control.user, "password": control.password.reveal()}]
    for identity in devices:
        assert identity.device is not None
        users.append(
            {
                "user": identity.user,
                "password": identity.password.reveal(),
                "permissions": device_permissions(identity.device),
            }
        )
    block = {ACCOUNT: {"jetstream": "enabled", "users": users}}
    return "accounts: " + json.dumps(block, indent=2) + "\n"


class FleetHome:
    """The directory that holds a fleet's identities and generated server authorization."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def control_file(self) -> Path:
        return self.path / "control.json"

    @property
    def auth_file(self) -> Path:
        return self.path / "nats-auth.conf"

    def device_file(self, device: str) -> Path:
        return self.path / "devices" / f"{check_token('device', device)}.json"

    @property
    def lock_file(self) -> Path:
        return self.path / "auth.lock"

    def init(self, servers: Sequence[str]) -> Identity:
        """Create the control identity (kept if it exists) and the authorization file."""
        with held(self.lock_file):
            if self.control_file.exists():
                return self.control()
            control = Identity(user="control", password=new_password(), servers=tuple(servers))
            _write_private(self.control_file, control.file_json())
            self._write_auth()
            return control

    def control(self) -> Identity:
        if not self.control_file.exists():
            raise InvalidValueError("fleet home", str(self.path), "a directory made by `harmony fleet init`")
        return Identity.model_validate_json(self.control_file.read_text())

    def add_device(self, device: str, *, rewrite_auth: bool = True) -> Identity:
        """The device's identity, created on first registration; the authorization is brought up to date.

        ``rewrite_auth=False`` when adding many devices: call ``write_auth`` once afterwards.
        """
        path = self.device_file(device)
        control = self.control()
        with held(self.lock_file):
            if path.exists():
                identity = Identity.model_validate_json(path.read_text())
            else:
                identity = device_identity(device, control.servers)
                _write_private(path, identity.file_json())
                crash_point("fleet-device-written")
            if rewrite_auth:  # also when it existed: a command killed here before left it out
                self._write_auth()
            return identity

    def remove_device(self, device: str) -> bool:
        """Forget the device's identity and rewrite the authorization without it; False if it had none (the
        authorization is still brought up to date: a command killed before it left the device in)."""
        path = self.device_file(device)
        with held(self.lock_file):
            existed = path.exists()
            path.unlink(missing_ok=True)
            crash_point("fleet-device-removed")
            self._write_auth()
            return existed

    def devices(self) -> list[Identity]:
        folder = self.path / "devices"
        files = sorted(folder.glob("*.json")) if folder.exists() else []
        return [Identity.model_validate_json(p.read_text()) for p in files]

    def write_auth(self) -> None:
        with held(self.lock_file):
            self._write_auth()

    def _write_auth(self) -> None:
        """Rewrite ``nats-auth.conf`` from the identities, only if that changes it; the caller holds the lock."""
        text = auth_config(self.control(), self.devices())
        with contextlib.suppress(FileNotFoundError):
            if self.auth_file.read_text() == text:
                return
        _write_private(self.auth_file, text)


def _write_private(path: Path, text: str) -> None:
    write_atomic(path, text, mode=0o600, directory_mode=0o700)
