"""``DebianPackage``: a Debian package installed (optionally at an exact version) or absent."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Self

from pydantic import field_validator, model_validator

from harmony.domain.capabilities.packages import SystemPackages
from harmony.domain.change import Change
from harmony.domain.errors import InvalidValueError
from harmony.domain.interpret import Interpret
from harmony.domain.outcome import Outcome
from harmony.domain.score import Score

_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9][a-z0-9-]*)?$")

type PackageState = Literal["installed", "absent"]


class DebianPackage(Score[SystemPackages]):
    """``package`` is ``installed`` (at exactly ``version`` when given: a pin, up- or downgrading) or ``absent``."""

    kind: Literal["debian_package"] = "debian_package"
    package: str
    state: PackageState = "installed"
    version: str | None = None

    @field_validator("package")
    @classmethod
    def _package_name(cls, v: str) -> str:
        if not _PACKAGE.match(v):
            raise InvalidValueError(
                "package",
                v,
                "a Debian package name (a-z, 0-9, '+', '-', '.'), with ':arch' for another architecture (libc6:i386)",
            )
        return v

    @model_validator(mode="after")
    def _version_only_when_installed(self) -> Self:
        if self.state == "absent" and self.version is not None:
            raise InvalidValueError("version", self.version, "no version for a package that should be absent")
        return self

    @property
    def name(self) -> str:
        return f"package:{self.package}"

    def interpret(self) -> Interpret[SystemPackages]:
        return DebianPackageInterpret(self)


class DebianPackageInterpret(Interpret[SystemPackages]):
    def __init__(self, score: DebianPackage) -> None:
        self.score = score

    async def plan(self, topology: SystemPackages) -> Sequence[Change]:
        installed = (await topology.installed_versions([self.score.package]))[self.score.package]
        return plan_package(self.score, installed)

    async def apply(self, topology: SystemPackages, changes: Sequence[Change]) -> Outcome:
        s = self.score
        if s.state == "absent":
            await topology.remove([s.package])
            return Outcome.success(f"removed {s.package}")
        await topology.install({s.package: s.version})
        return Outcome.success(f"installed {s.package}" + (f" {s.version}" if s.version else ""))


def plan_package(score: DebianPackage, installed: str | None) -> list[Change]:
    target = f"package {score.package}"
    if score.state == "absent":
        return [Change.delete(target, f"{installed}\n")] if installed is not None else []
    if installed is None:
        return [Change.create(target, f"{score.version or 'candidate version'}\n")]
    if score.version is not None and installed != score.version:
        return [Change.update(target, f"{installed} -> {score.version}\n")]
    return []
