"""Secrets in container and application environments: masked in every dump, never on argv, digested by
fingerprint (a rotated secret is a new spec/version; the same one is not)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from pydantic import ValidationError

from harmony.domain.capabilities.containers import (
    MANAGED_LABEL,
    ContainerInfo,
    ContainerName,
    ContainerSpec,
    EnvName,
    ImageRef,
)
from harmony.domain.names import ResourceName
from harmony.domain.secret import MASK, REVEAL, Secret
from harmony.domain.values import Hostname, Port
from harmony.infra.podman import env_file_content, run_argv
from harmony.modules.application import Application, Container, HttpCheck
from harmony.modules.application.container import SPEC_LABEL, plan_container, spec_digest
from harmony.modules.application.exposure import Exposure


def spec(password: Secret | str) -> ContainerSpec:
    return ContainerSpec(
        name=ContainerName("db-client"),
        image=ImageRef("client:1"),
        env={EnvName("USER"): "app", EnvName("PASSWORD"): password},
    )


def app(password: Secret) -> Application:
    return Application(
        app=ResourceName("shop"),
        image=ImageRef("shop:1"),
        port=Port(8080),
        expose=Exposure(hostname=Hostname("shop.apps.test"), zone=Hostname("apps.test"), port=Port(8081)),
        smoke=HttpCheck(),
        env={EnvName("PASSWORD"): password},
    )


def test_secret_goes_to_the_env_file_and_plain_values_stay_on_argv() -> None:
    s = spec(Secret("hunter2 #x"))
    argv = run_argv(s, env_file=PurePosixPath("/tmp/harmony-env-abc/env"))
    assert "--env-file=/tmp/harmony-env-abc/env" in argv and "--env=USER=app" in argv
    assert not any("hunter2" in a or "PASSWORD" in a for a in argv)
    assert env_file_content(s) == b"PASSWORD=hunter2 #x\n"


def test_a_spec_with_secrets_needs_an_env_file() -> None:
    with pytest.raises(ValueError, match=r"db-client: secret variables \['PASSWORD'\] need an env file"):
        run_argv(spec(Secret("hunter2")))


def test_dumps_are_masked_and_round_trip_keeps_the_secret_type() -> None:
    s = spec(Secret("hunter2"))
    assert "hunter2" not in s.model_dump_json() and MASK in s.model_dump_json()
    assert "hunter2" not in repr(s) and "hunter2" not in repr(Container(spec=s))
    back = ContainerSpec.model_validate(s.model_dump(context=REVEAL))
    assert back.env[EnvName("PASSWORD")] == Secret("hunter2") and back.env[EnvName("USER")] == "app"


@pytest.mark.parametrize("value", ["two\nlines", "nul\0byte"])
def test_a_secret_that_cannot_be_one_env_file_line_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match=r"env.PASSWORD: '\*{8}' is not valid; expected a secret on one"):
        spec(Secret(value))


def test_container_digest_follows_the_secret_value_not_its_mask() -> None:
    assert spec_digest(spec(Secret("a"))) == spec_digest(spec(Secret("a")))
    assert spec_digest(spec(Secret("a"))) != spec_digest(spec(Secret("b")))
    assert spec_digest(spec(Secret("a"))) != spec_digest(spec(MASK)), "a plain value equal to the mask differs"


def test_a_rotated_secret_plans_a_replacement_and_the_plan_holds_no_value() -> None:
    running = ContainerInfo(
        id="1",
        name="db-client",
        image="client:1",
        state="running",
        labels={MANAGED_LABEL: "true", SPEC_LABEL: spec_digest(spec(Secret("old-value")))},
    )
    assert plan_container(Container(spec=spec(Secret("old-value"))), running) == []
    (change,) = plan_container(Container(spec=spec(Secret("new-value"))), running)
    assert change.action == "update" and "value" not in change.diff


def test_application_version_changes_with_the_secret_only() -> None:
    assert app(Secret("a")).version("img") == app(Secret("a")).version("img")
    assert app(Secret("a")).version("img") != app(Secret("b")).version("img")
    assert "a-secret" not in app(Secret("a-secret")).model_dump_json()
    assert app(Secret("x")).container_spec("v1").env[EnvName("PASSWORD")] == Secret("x")


def test_fingerprint_is_not_the_value() -> None:
    fingerprint = Secret("hunter2").fingerprint()
    assert fingerprint.startswith("scrypt:") and "hunter2" not in fingerprint
    assert fingerprint == Secret("hunter2").fingerprint() != Secret("hunter3").fingerprint()
