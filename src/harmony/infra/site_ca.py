"""``SiteCA``: the certificate authority Harmony creates once per site and keeps, to sign its services' TLS.

The CA's key stays in Harmony's state directory (``ca.key``, mode 0600, directory 0700) and never leaves it;
what hosts and devices receive is the CA *certificate* (``ca.crt``), the only thing they trust for the
site's services. Server certificates are issued for the exact addresses and names a service answers on.
Not guaranteed: revocation (there is no CRL); a leaked CA key means a new CA and re-issued certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harmony.domain.errors import FilesError
from harmony.domain.values import IPAddress

CA_DAYS = 3650
SERVER_DAYS = 825


@dataclass(frozen=True)
class IssuedCertificate:
    certificate_pem: str
    key_pem: str


class SiteCA:
    """The CA in ``directory`` (``ca.crt`` and ``ca.key``), created on first use."""

    def __init__(self, directory: Path, *, name: str = "Harmony site CA") -> None:
        self.directory = directory
        self.name = name

    @property
    def certificate_path(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def key_path(self) -> Path:
        return self.directory / "ca.key"

    def ensure(self) -> None:
        """Create the CA unless it exists; refuse a key file others can read."""
        if self.key_path.exists():
            mode = self.key_path.stat().st_mode & 0o777
            if mode & 0o077:
                raise FilesError(
                    str(self.key_path),
                    f"the site CA key has mode {mode:o}; it must be 0600 (chmod 600 {self.key_path})",
                )
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(self.key_path, _key_pem(key))
        self.certificate_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def certificate_pem(self) -> str:
        self.ensure()
        return self.certificate_path.read_text()

    def issue_server(
        self, common_name: str, *, addresses: tuple[IPAddress, ...], names: tuple[str, ...] = ()
    ) -> IssuedCertificate:
        """A server certificate for ``addresses`` and ``names`` (subject alternative names), signed by this CA."""
        self.ensure()
        ca_key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise FilesError(str(self.key_path), "the site CA key is not an EC key")
        ca_cert = x509.load_pem_x509_certificate(self.certificate_path.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(str(a))) for a in addresses]
        sans += [x509.DNSName(n) for n in names]
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return IssuedCertificate(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key).decode())


def certificate_names(pem: str) -> tuple[tuple[str, ...], str]:
    """The subject alternative names (as text) and the issuer of a PEM certificate."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [str(n.value) for n in sans]
    return tuple(sorted(names)), cert.issuer.rfc4514_string()


def certificate_subject(pem: str) -> str:
    return x509.load_pem_x509_certificate(pem.encode()).subject.rfc4514_string()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
