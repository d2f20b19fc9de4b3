"""The agent install Scores' plans as tables: checksum decides the upload, revision decides the restart."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from harmony.domain.capabilities.services import ServiceSpec, ServiceState
from harmony.domain.secret import Secret
from harmony.modules.agent.binary import AgentBinary, plan_binary
from harmony.modules.agent.credentials import AgentCredentials
from harmony.modules.agent.service import AgentService, plan_service

SHA = "a" * 64
BINARY = AgentBinary(source=Path("/tmp/harmony-agent"), sha256=SHA, path=PurePosixPath("/opt/harmony-agent"))
SERVICE = AgentService(
    agent="dev-a", service=ServiceSpec(name="harmony-agent", argv=("/opt/harmony-agent",), revision="r2")
)


@pytest.mark.parametrize(
    ("remote", "expected"),
    [(None, ["create"]), ("b" * 64, ["update"]), (SHA, [])],
)
def test_binary_uploads_only_when_the_checksum_differs(remote: str | None, expected: list[str]) -> None:
    assert [c.action for c in plan_binary(BINARY, remote)] == expected


@pytest.mark.parametrize(
    ("running", "revision", "expected"),
    [(False, None, ["create"]), (False, "r2", ["create"]), (True, "r1", ["update"]), (True, "r2", [])],
)
def test_service_starts_or_restarts_only_when_needed(running: bool, revision: str | None, expected: list[str]) -> None:
    state = ServiceState(running=running, revision=revision, manager="daemon")
    assert [c.action for c in plan_service(SERVICE, state)] == expected


def test_credentials_never_show_the_password_and_change_digest_with_it() -> None:
    def creds(password: str) -> AgentCredentials:
        return AgentCredentials(
            path=PurePosixPath("/etc/harmony/credentials.json"), device="dev-a", user="device-dev-a",
            password=Secret(password), servers=("nats://10.0.0.1:4222",),
        )  # fmt: skip

    one, two = creds("s3cret-one"), creds("s3cret-two")
    assert "s3cret-one" not in one.model_dump_json() and "s3cret-one" not in repr(one)
    assert b"s3cret-one" in one.content()
    assert one.digest() != two.digest() and one.digest() == creds("s3cret-one").digest()
    with pytest.raises(ValueError, match="path"):
        AgentCredentials(path=PurePosixPath("relative.json"), device="d", user="u", password=Secret("x"), servers=())
