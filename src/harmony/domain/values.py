"""Typed values for the physical world: ports, MAC addresses, hostnames, addresses and networks.

Each type rejects a bad value when it is constructed, so an invalid value never reaches a Score; and because
they are distinct types, passing a bare ``str`` or ``int`` where one belongs is a type error before run time.
Pydantic accepts the plain wire form (``"aa:bb:…"``, ``8080``) when a model is loaded from JSON.
"""

from __future__ import annotations

import operator
import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any, ClassVar, Self

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from harmony.domain.errors import InvalidValueError

__all__ = [
    "DnsName",
    "Hostname",
    "IPAddress",
    "IPNetwork",
    "IPv4Address",
    "IPv4Network",
    "IPv6Address",
    "IPv6Network",
    "MacAddress",
    "Port",
    "ip_address",
    "ip_network",
]

type IPAddress = IPv4Address | IPv6Address
type IPNetwork = IPv4Network | IPv6Network

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class Port(int):
    """A TCP/UDP port number, 1 to 65535."""

    def __new__(cls, value: int) -> Self:
        try:
            number = operator.index(value)
        except TypeError:
            number = 0
        if type(value) is bool or not 1 <= number <= 65535:
            raise InvalidValueError("port", value, "an integer from 1 to 65535")
        return super().__new__(cls, number)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.int_schema(), serialization=core_schema.plain_serializer_function_ser_schema(int)
        )


class ValidatedStr(str):
    """A ``str`` that is normalised and checked once, at construction."""

    _what: str = "value"
    _expected: str = ""

    def __new__(cls, value: str) -> Self:
        try:
            normal = cls._normalise(value)
        except AttributeError:  # not a str, from an untyped caller
            normal = None
        if normal is None:
            raise InvalidValueError(cls._what, value, cls._expected)
        return super().__new__(cls, normal)

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        raise NotImplementedError

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.plain_serializer_function_ser_schema(str)
        )


class MacAddress(ValidatedStr):
    """An Ethernet MAC address, stored lower-case and colon-separated (``52:54:00:12:34:56``)."""

    _what = "MAC address"
    _expected = "six hex byte pairs such as 52:54:00:12:34:56"

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        v = value.strip().lower()
        if not _MAC.match(v):
            return None
        digits = v.replace(":", "").replace("-", "")
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


class DnsName(ValidatedStr):
    """A name in the DNS, stored lower-case: a host name, or a name with underscore labels such as
    ``_acme-challenge.web.lan`` (ACME DNS-01) or ``_http._tcp.office.lan`` (service labels)."""

    _what = "DNS name"
    _expected = "dot-separated labels of a-z, 0-9, '-' and '_', each 1-63 long, 253 in all"
    _label: ClassVar[re.Pattern[str]] = _DNS_LABEL

    @classmethod
    def _normalise(cls, value: str) -> str | None:
        v = value.strip().lower().rstrip(".")
        if not v or len(v) > 253 or not all(cls._label.match(label) for label in v.split(".")):
            return None
        return v

    def within(self, zone: str) -> bool:
        """True when this name is ``zone`` or lies inside it."""
        return self == zone or self.endswith("." + zone)


class Hostname(DnsName):
    """An RFC 1123 host name (labels of letters, digits and hyphens), stored lower-case. Every host name is
    a ``DnsName``; a DNS name with an underscore label is not a host name."""

    _what = "hostname"
    _expected = "dot-separated labels of a-z, 0-9 and '-', each 1-63 long, 253 in all"
    _label = _HOST_LABEL


_URL_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")


def url_without_credentials(url: str) -> str:
    """``url`` as it may be shown (errors, listings): a ``user:password@`` in it becomes ``***@``."""
    return _URL_USERINFO.sub(r"\1***@", url)
