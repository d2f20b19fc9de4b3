from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from harmony import Host, Hostname, InvalidValueError, Inventory, MacAddress, Port
from harmony.domain.inventory import Nic


@pytest.mark.parametrize("value", [1, 22, 65535])
def test_port_accepts_the_valid_range(value: int) -> None:
    assert Port(value) == value


@pytest.mark.parametrize("value", [0, -1, 65536, True])
def test_port_rejects_out_of_range_naming_field_value_and_range(value: int) -> None:
    with pytest.raises(InvalidValueError) as e:
        Port(value)
    assert e.value.field == "port"
    assert e.value.value == value
    assert "1 to 65535" in str(e.value)


def test_port_from_an_untyped_caller_is_rejected_clearly() -> None:
    with pytest.raises(InvalidValueError, match="'80'"):
        Port("80")  # type: ignore[arg-type]  # an untyped caller, on purpose


@given(st.integers(min_value=0, max_value=2**48 - 1), st.sampled_from([":", "-", ""]), st.booleans())
def test_mac_address_normalises_any_spelling(n: int, sep: str, upper: bool) -> None:
    hexs = f"{n:012x}"
    spelled = sep.join(hexs[i : i + 2] for i in range(0, 12, 2))
    mac = MacAddress(spelled.upper() if upper else spelled)
    assert mac == ":".join(hexs[i : i + 2] for i in range(0, 12, 2))


@pytest.mark.parametrize("value", ["", "52:54:00:12:34", "52:54:00:12:34:5g", "52:54-00:12:34:56", "5254.0012.3456"])
def test_mac_address_rejects_malformed(value: str) -> None:
    with pytest.raises(InvalidValueError, match="MAC address"):
        MacAddress(value)


@pytest.mark.parametrize(("value", "normal"), [("Web-1", "web-1"), ("a.b.c.", "a.b.c"), ("x" * 63, "x" * 63)])
def test_hostname_accepts_rfc1123(value: str, normal: str) -> None:
    assert Hostname(value) == normal


@pytest.mark.parametrize("value", ["", "-web", "web-", "we_b", "x" * 64, "a..b", "a" * 250 + ".bcde"])
def test_hostname_rejects_invalid(value: str) -> None:
    with pytest.raises(InvalidValueError, match="hostname"):
        Hostname(value)


class _Wire(BaseModel):
    port: Port
    mac: MacAddress


def test_typed_values_round_trip_through_json_in_their_plain_wire_form() -> None:
    wire = _Wire(port=Port(8080), mac=MacAddress("52-54-00-AA-BB-CC"))
    text = wire.model_dump_json()
    assert text == '{"port":8080,"mac":"52:54:00:aa:bb:cc"}'
    again = _Wire.model_validate_json(text)
    assert isinstance(again.port, Port)
    assert isinstance(again.mac, MacAddress)


def test_bad_wire_values_name_the_field() -> None:
    with pytest.raises(ValidationError) as e:
        _Wire.model_validate_json('{"port": 70000, "mac": "52:54:00:aa:bb:cc"}')
    assert e.value.errors()[0]["loc"] == ("port",)


def _host(name: str, address: str, mac: str | None = None) -> Host:
    nics = (Nic(name="eth0", mac=MacAddress(mac)),) if mac else ()
    return Host(name=Hostname(name), address=IPv4Address(address), nics=nics, labels={"site": "office"})


@pytest.mark.parametrize(
    ("hosts", "what"),
    [
        ([_host("a", "10.0.0.1"), _host("a", "10.0.0.2")], "host name"),
        ([_host("a", "10.0.0.1"), _host("b", "10.0.0.1")], "host address"),
        ([_host("a", "10.0.0.1", "52:54:00:00:00:01"), _host("b", "10.0.0.2", "52:54:00:00:00:01")], "MAC address"),
    ],
)
def test_inventory_rejects_duplicates_naming_the_value(hosts: list[Host], what: str) -> None:
    with pytest.raises(ValidationError, match=what):
        Inventory(hosts=tuple(hosts))


def test_inventory_selects_by_role_and_labels() -> None:
    a = _host("a", "10.0.0.1").model_copy(update={"roles": frozenset({"db"})})
    b = _host("b", "10.0.0.2")
    inv = Inventory(hosts=(a, b))
    assert inv.select(role="db") == [a]
    assert inv.select(labels={"site": "office"}) == [a, b]
    assert inv.select(labels={"site": "home"}) == []
