"""The prompt on a real pseudo-terminal: a bad answer is explained and asked again, a good one is typed,
saved to the embedded store and never asked for again."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.integration.test_secrets_deploy import Site, on_terminal

DEPLOY = textwrap.dedent(
    """
    import os
    from pathlib import Path, PurePosixPath

    from pydantic import Field

    from harmony import Deployment, Port
    from harmony.config import ConfigModel, ConfigSection, Secret
    from harmony.config.wiring import load_config
    from harmony.modules.files import ManagedFile
    from harmony.topology.linux_host import LinuxHost


    class App(ConfigSection):
        port: Port = Field(description="where the app listens")
        token: Secret


    class Settings(ConfigModel):
        app: App


    settings = load_config(Settings, deployment="prompt_demo")
    deployment = Deployment(
        topology=LinuxHost.local(root=Path(os.environ["HARMONY_SECRETS_ROOT"]), create_root=True),
        scores=[
            ManagedFile(
                path=PurePosixPath("/app.conf"),
                content=Secret.render(
                    "port=$port token=$token\\n", port=str(settings.app.port), token=settings.app.token
                ),
                mode=0o600,
            )
        ],
    )
    """
)


def test_a_bad_answer_is_asked_again_and_the_typed_answer_is_kept(tmp_path: Path) -> None:
    site = Site(tmp_path)
    deploy = tmp_path / "prompt_demo.py"
    deploy.write_text(DEPLOY)
    token = "Prompted-Token-8e1c"
    code, screen = on_terminal(
        site,
        ["apply", str(deploy), "--yes"],
        [(b"app.port: ", "not-a-port"), (b"app.port: ", "70000"), (b"app.port: ", "6000"), (b"app.token: ", token)],
        env={},
    )
    assert code == 0, screen
    assert "prompt_demo/default needs app.port (Port) — where the app listens" in screen
    assert screen.count("not valid: expected Port") == 2
    assert (site.root / "app.conf").read_text() == f"port=6000 token={token}\n"
    stored = site.run("config", "list", "-d", "prompt_demo", "--json")
    assert json.loads(stored.stdout) == [
        {"key": "app.port", "value": 6000, "secret": False, "version": 1},
        {"key": "app.token", "value": "********", "secret": True, "version": 1},
    ]
    again = site.run("plan", str(deploy))
    assert again.returncode == 0, again.stderr
    assert "no changes" in again.stdout
    site.assert_no_leak(token)


def test_secret_set_on_a_terminal_asks_twice_without_echo(tmp_path: Path) -> None:
    site = Site(tmp_path)
    value = "Typed-Secret-41d0"
    code, screen = on_terminal(
        site,
        ["secret", "set", "api.token", "-d", "prompt_demo"],
        [(b"api.token: ", value), (b"api.token again: ", value)],
        env={},
    )
    assert code == 0, screen
    assert "api.token set (secret, version 1)" in screen
    assert site.run("secret", "get", "api.token", "-d", "prompt_demo", "--reveal").stdout == value + "\n"
    site.outputs.pop(-2)  # the --reveal output above is the one place the value is printed on purpose
    code, screen = on_terminal(
        site,
        ["secret", "set", "api.token", "-d", "prompt_demo"],
        [(b"api.token: ", "one"), (b"api.token again: ", "two")],
        env={},
    )
    assert code == 1
    assert "the two values for api.token differ; nothing was stored" in screen
    site.assert_no_leak(value)
