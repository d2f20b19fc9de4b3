"""``MachineRoles``: discovered machines get their role: each MAC its own boot script, which installs it once.

For each assignment the Score serves the machine's seed (hostname, SSH key) and its iPXE script: the
installer while the machine is not installed, the local disk once its installer reported ``installed``
(the endpoint switches the script itself at that moment, so a reboot right after the install never
installs twice). A machine waiting in discovery is told to reboot at its next poll, and boots its script.
Installed is installed for good: only an assignment of a later ``generation`` than the installed one serves
the installer again (the edge records a request, so the machine's next network boot installs).

Refused at plan, before any machine boots: a MAC that never reported to discovery, a disk the machine
does not have or that is smaller than the role needs (or than the install image). Refused when the Score
is built: the same MAC, hostname or address in two assignments. Apply with ``NetworkDiscovery`` (same
endpoint) and a ``DhcpScope`` holding each assignment's ``reservation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator

from harmony.domain.capabilities.boot import BootScript
from harmony.domain.capabilities.discovery import DiscoveryEndpoint
from harmony.domain.capabilities.edge import BareMetalEdge
from harmony.domain.capabilities.installation import LOCAL_BOOT_SCRIPT, InstallState
from harmony.domain.change import Change, text_diff
from harmony.domain.discovery import discovered
from harmony.domain.installation import (
    RoleAssignment,
    check_assignment,
    install_script,
    seed_archive,
    seed_file,
    unique_assignments,
)
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score
from harmony.domain.values import MacAddress


class MachineRoles(Score[BareMetalEdge]):
    """Each machine in ``assignments`` is installed as its host and then boots from its disk."""

    kind: Literal["machine_roles"] = "machine_roles"
    endpoint: DiscoveryEndpoint
    assignments: Annotated[tuple[RoleAssignment, ...], AfterValidator(unique_assignments)]

    @property
    def name(self) -> str:
        return "bare-metal:roles"

    def interpret(self) -> Interpret[BareMetalEdge]:
        return MachineRolesInterpret(self)


class _Wanted:
    def __init__(
        self, assignment: RoleAssignment, script: str, seed: tuple[str, bytes] | None, *, reinstall: bool = False
    ) -> None:
        self.assignment = assignment
        self.script = BootScript(mac=assignment.mac, content=script)
        self.seed = seed
        self.reinstall = reinstall
        """Installed at an earlier generation: its ``installed`` report is replaced by a request."""


class MachineRolesInterpret(Interpret[BareMetalEdge]):
    def __init__(self, score: MachineRoles) -> None:
        self.score = score

    async def _wanted(self, topology: BareMetalEdge) -> tuple[list[_Wanted], dict[MacAddress, InstallState]]:
        states = {s.mac: s for s in await topology.install_states()}
        machines = {m.mac: m for m in discovered(await topology.discovery_reports())}
        image = await topology.install_image()
        boot = await topology.discovery_image()
        wanted: list[_Wanted] = []
        for i, a in enumerate(self.score.assignments):
            state = states.get(a.mac)
            installed = state is not None and state.status == "installed"
            if state is not None and installed and state.generation >= a.generation:
                wanted.append(_Wanted(a, LOCAL_BOOT_SCRIPT, None))
                continue
            check_assignment(f"assignments[{i}]", a, machines.get(a.mac), image)
            seed = seed_archive(a)
            name = seed_file(a, seed)
            script = install_script(self.score.endpoint, boot, image, a, name)
            wanted.append(_Wanted(a, script, (name, seed), reinstall=installed))
        return wanted, states

    async def plan(self, topology: BareMetalEdge) -> Sequence[Change]:
        wanted, states = await self._wanted(topology)
        current = {s.mac: s.content for s in await topology.boot_scripts()}
        changes: list[Change] = []
        image = await topology.install_image()
        if any(w.seed is not None for w in wanted) and not await topology.install_image_served(image):
            changes.append(
                Change.create(f"install image {image.digest[:16]}", f"Debian {image.suite}, {image.size_bytes} bytes")
            )
        for w in wanted:
            mac = w.assignment.mac
            have = current.get(mac)
            if have == w.script.content:
                continue
            state = states.get(mac)
            why = f" (last install failed: {state.detail})" if state is not None and state.status == "failed" else ""
            if w.reinstall and state is not None:
                why = f" (reinstall: generation {w.assignment.generation}, installed at generation {state.generation})"
            diff = text_diff(have, w.script.content, w.script.path) + why
            make = Change.create if have is None else Change.update
            changes.append(make(f"boot script of {mac} ({w.assignment.hostname})", diff))
        return changes

    async def apply(self, topology: BareMetalEdge, changes: Sequence[Change]) -> Outcome:
        wanted, _ = await self._wanted(topology)
        image = await topology.install_image()
        if any(w.seed is not None for w in wanted):
            await topology.serve_install_image(image)
        current = {s.mac: s.content for s in await topology.boot_scripts()}
        for w in wanted:
            if current.get(w.assignment.mac) == w.script.content:
                continue
            if w.seed is not None:
                await topology.put_boot_file(w.seed[0], w.seed[1])
                await topology.request_install(w.assignment.mac, w.assignment.generation, reinstall=w.reinstall)
            await topology.put_boot_script(w.script)
        installing = [str(w.assignment.hostname) for w in wanted if w.seed is not None]
        installed = [str(w.assignment.hostname) for w in wanted if w.seed is None]
        return Outcome.success(
            f"roles: {len(installing)} to install ({', '.join(installing) or 'none'}), "
            f"{len(installed)} installed ({', '.join(installed) or 'none'})",
            *(c.target for c in changes),
        )
