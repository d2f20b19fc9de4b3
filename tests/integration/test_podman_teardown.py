"""The test fixtures' teardown against a container that never finishes starting (``runc init`` stuck).

The stuck start is real: an OCI prestart hook that never returns keeps ``runc create`` (and the container's
``runc init``) waiting under ``conmon``, and ``podman run`` waiting for them, the state a loaded machine
once left a dashboard test's device in for 45 minutes.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from harmony.domain.capabilities.containers import ImageRef
from harmony.infra.podman import Podman
from tests.fixtures.container_leaks import Leftover, leftovers
from tests.fixtures.podman import wipe


def _start_stuck(podman: Podman, image: ImageRef, hooks: Path) -> subprocess.Popen[bytes]:
    hooks.mkdir()
    hang = {"path": "/bin/sleep", "args": ["sleep", "600"]}
    (hooks / "hang.json").write_text(
        json.dumps({"version": "1.0.0", "hook": hang, "when": {"always": True}, "stages": ["prestart"]})
    )
    argv = podman.argv("--hooks-dir", str(hooks), "run", "-d", "--name", "stuck", image.qualified, "sleep", "600")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stuck_in_runc_init(podman: Podman) -> list[Leftover]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = leftovers([f"{podman.root}/"])
        if any(x.command.endswith("runc init") for x in found) and any(x.command == "sleep 600" for x in found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"the container never got stuck in runc init: {leftovers([f'{podman.root}/'])}")


async def test_a_container_stuck_in_runc_init_is_killed_and_removed(
    podman: Podman, busybox_image: ImageRef, tmp_path: Path
) -> None:
    client = _start_stuck(podman, busybox_image, tmp_path / "hooks")
    try:
        stuck = _stuck_in_runc_init(podman)
        assert any("conmon" in x.command for x in stuck), stuck

        wipe(podman, remove_timeout=3)  # `podman rm -f` waits on the stuck start's lock: it is killed

        assert leftovers([f"{podman.root}/"]) == []
        assert all(not Path(f"/proc/{x.pid}").exists() for x in stuck), "conmon, runc and the hook are gone"
        assert client.wait(timeout=60) != 0, "the stuck `podman run` fails once its runc is gone"
        listed = subprocess.run(podman.argv("ps", "-a", "--format", "{{.Names}}"), capture_output=True, timeout=60)
        assert listed.stdout.decode().split() == [], "the container is removed from the store"
    finally:
        client.kill()
        client.wait(timeout=60)
