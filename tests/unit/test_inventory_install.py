"""The install state ``harmony inventory discovered`` shows for a machine: the installer's last report
first, else the role the deployment gives its MAC."""

from __future__ import annotations

from datetime import UTC, datetime

from harmony.cli.inventory import install_of
from harmony.domain.capabilities.installation import InstallState
from harmony.domain.installation import MachineRole, RoleAssignment
from harmony.domain.values import Hostname, IPv4Address, MacAddress

MAC = MacAddress("52:54:00:19:00:01")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0bVn1o0v0PmxQ2zK3P5wGdXJtq2m0Sx3xq6Qe7vS harmony@test"
ROLE = RoleAssignment(
    mac=MAC, hostname=Hostname("web-1"), role=MachineRole(name="web"), ssh_public_key=KEY,
    address=IPv4Address("10.77.0.51"),
)  # fmt: skip
WHEN = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_a_machine_without_role_or_report_is_only_discovered() -> None:
    assert install_of(None, None).describe() == "discovered"


def test_a_role_without_a_report_installs_at_the_next_boot_once_its_script_is_served() -> None:
    install = install_of(None, ROLE)
    assert (install.state, install.hostname, install.role) == ("role assigned", "web-1", "web")
    assert install.describe() == "role assigned as web-1 (web): installs once the deployment is applied"
    assert install_of(None, ROLE, script_served=True).describe() == (
        "role assigned as web-1 (web): installs at its next boot"
    )


def test_the_installers_report_wins_over_the_role() -> None:
    done = InstallState(mac=MAC, status="installed", received=WHEN)
    assert install_of(done, ROLE, script_served=True).describe() == "installed as web-1 (web)"
    failed = InstallState(mac=MAC, status="failed", received=WHEN, detail="disk vda not found")
    assert install_of(failed, None).describe() == "install failed: disk vda not found"
    assert install_of(failed, ROLE, script_served=True).describe() == (
        "install failed: disk vda not found; installs again as web-1 (web) at its next boot"
    )


def test_an_installer_that_started_shows_installing_with_what_it_writes() -> None:
    started = InstallState(mac=MAC, status="installing", received=WHEN, detail="writing disk.img.gz onto /dev/vda")
    install = install_of(started, ROLE, script_served=True)
    assert (install.state, install.detail) == ("installing", "writing disk.img.gz onto /dev/vda")
    assert install.describe() == "installing as web-1 (web): writing disk.img.gz onto /dev/vda"
    assert install_of(started.model_copy(update={"detail": ""}), None).describe() == "installing: started"
