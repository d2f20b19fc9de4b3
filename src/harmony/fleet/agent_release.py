"""Agent releases: a build of the agent file, its sha256 and the fleet's ed25519 signature over both.

    object store  fleet_agent_releases   <version>                 the file's bytes
    fleet_desired                        <device>.harmony-agent    AgentRelease (JSON): the version it should run
    fleet_state                          <device>.harmony-agent    DeploymentState: the upgrade's state

The signing key is the fleet home's ``release-signing.key`` (made on first use, mode 0600); devices hold only
its public half (``release-key.pub`` beside their agent, written at enrollment). A device checks the size,
the sha256 and the signature of what it downloaded before it makes the file executable: a file that fails any
of them is deleted, never run. The signature covers the version too, so a signed build cannot be replayed
under another version's name. Not guaranteed: no key rotation or revocation (a new key means enrolling again).
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field

from harmony.domain.errors import HarmonyError, InvalidValueError
from harmony.fleet.records import Record
from harmony.infra.state_files import write_atomic
from harmony.modules.agent.binary import sha256_of

AGENT_DEPLOYMENT = "harmony-agent"
"""The deployment name of agent versions (reserved: ``fleet deploy`` refuses it)."""
RELEASES = "fleet_agent_releases"
KEY_FILE = "release-signing.key"
PUBLIC_KEY_FILE = "release-key.pub"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$"


class ReleaseRefused(HarmonyError):
    """A downloaded release failed a check; it was deleted, never executed. The message says which check."""


class AgentRelease(Record):
    version: str = Field(pattern=VERSION_PATTERN)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$", description="ed25519 over signed_message(), hex")

    def signed_message(self) -> bytes:
        return signed_message(self.version, self.sha256, self.size)


def signed_message(version: str, sha256: str, size: int) -> bytes:
    return f"harmony-agent-release\n{version}\n{sha256}\n{size}\n".encode()


def signing_key(home: Path) -> Ed25519PrivateKey:
    """The fleet's release signing key in the fleet home ``home``, made (mode 0600) on first use."""
    path = home / KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomic(path, pem.decode(), mode=0o600, directory_mode=0o700)
        return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise InvalidValueError(str(path), type(loaded).__name__, "an ed25519 private key (PKCS8 PEM)")
    return loaded


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as one line of hex (what a device's ``release-key.pub`` holds)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex() + "\n"


def sign_release(key: Ed25519PrivateKey, version: str, path: Path) -> AgentRelease:
    sha256, size = sha256_of(path), path.stat().st_size
    signature = key.sign(signed_message(version, sha256, size)).hex()
    return AgentRelease(version=version, sha256=sha256, size=size, signature=signature)


def verify_release(release: AgentRelease, path: Path, public_key: str) -> None:
    """``ReleaseRefused`` unless ``path`` is exactly the release, signed by the key ``public_key`` (hex)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key.strip()))
    except ValueError as e:
        raise ReleaseRefused(f"the fleet's public key is not 32 bytes of hex ({e}): enroll the device again") from e
    size = path.stat().st_size
    if size != release.size:
        raise ReleaseRefused(f"release {release.version}: {size} bytes arrived, the release has {release.size}")
    digest = sha256_of(path)
    if digest != release.sha256:
        raise ReleaseRefused(
            f"release {release.version}: sha256 {digest[:16]}… of the file does not match {release.sha256[:16]}… "
            "of the release"
        )
    try:
        key.verify(bytes.fromhex(release.signature), release.signed_message())
    except InvalidSignature as e:
        raise ReleaseRefused(
            f"release {release.version}: its signature does not verify with this fleet's key "
            "(signed with another key, or altered): publish it again with `harmony fleet agent-release`"
        ) from e
