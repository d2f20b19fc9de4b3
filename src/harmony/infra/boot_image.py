"""The discovery image: Debian's kernel and an initramfs of busybox plus Harmony's inventory program.

Built on this machine from Debian's packages, never from the network at boot: the kernel comes from the
package ``linux-image-amd64`` depends on (``apt-cache`` resolves it offline, ``apt-get download`` fetches it
once), busybox from ``busybox-static``, the scripts from ``discovery_files/`` beside this module. The
initramfs holds only the drivers a small machine needs to see its NICs and disks (``MODULES`` and what they
depend on, from the kernel's own ``modules.dep``).

Cache: ``<cache>/kernels/<package>_<version>/`` (the unpacked package) and ``<cache>/discovery/<digest>/``
(``vmlinuz``, ``initrd.img``), where the digest hashes every input (kernel package and version, busybox,
scripts, module list). Each is built in a temporary directory and renamed into place, so concurrent builds
never see half an image; a second build with the same inputs reads the cache and downloads nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harmony.domain.capabilities.discovery import DiscoveryImage
from harmony.domain.errors import BootError
from harmony.infra.local_process import run_local
from harmony.infra.programs import APT_CACHE, APT_GET, BUSYBOX, DPKG_DEB, SH

KERNEL_METAPACKAGE = "linux-image-amd64"
MODULES = (
    "virtio_pci", "virtio_net", "virtio_blk", "virtio_scsi", "e1000", "e1000e", "igb", "r8169",
    "ata_piix", "ahci", "sd_mod", "nvme",
)  # fmt: skip
"""Drivers for the NICs and disks of small x86 machines and of qemu's default devices."""

FILES = Path(__file__).with_name("discovery_files")
DEFAULT_CACHE = Path(os.environ.get("HARMONY_BOOT_CACHE", "/var/cache/harmony/boot"))


class BootImageError(BootError):
    """The discovery image could not be built (a package not found or not downloadable, a broken kernel package)."""

    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        super().__init__(f"discovery image ({step})", detail)


@dataclass(frozen=True)
class BuiltImage:
    """A discovery image on this machine: what is served (``image``) and where its files are."""

    image: DiscoveryImage
    kernel_path: Path
    initrd_path: Path


async def build_discovery_image(cache: Path = DEFAULT_CACHE) -> BuiltImage:
    """The discovery image, from the cache when its inputs have not changed."""
    package, version = await _kernel_package()
    kernel_dir = await _unpacked_kernel(cache / "kernels", package, version)
    busybox = BUSYBOX.require()
    digest = _digest(package, version, busybox.read_bytes())
    target = cache / "discovery" / digest
    if not (target / "initrd.img").exists():
        await asyncio.to_thread(_build, kernel_dir, busybox, target)
    kernel_version = _kernel_release(kernel_dir)
    kernel_path, initrd_path = target / "vmlinuz", target / "initrd.img"
    size = kernel_path.stat().st_size + initrd_path.stat().st_size
    image = DiscoveryImage(
        digest=digest,
        kernel=f"discovery/{digest[:16]}/vmlinuz",
        initrd=f"discovery/{digest[:16]}/initrd.img",
        kernel_version=kernel_version,
        size_bytes=size,
    )
    return BuiltImage(image=image, kernel_path=kernel_path, initrd_path=initrd_path)


def _digest(package: str, version: str, busybox: bytes) -> str:
    h = hashlib.sha256(f"{package}\0{version}\0{','.join(MODULES)}\0".encode())
    h.update(hashlib.sha256(busybox).digest())
    for f in sorted(FILES.iterdir()):
        h.update(f"\0{f.name}\0".encode() + f.read_bytes())
    return h.hexdigest()


async def _kernel_package() -> tuple[str, str]:
    """The kernel package ``linux-image-amd64`` depends on, and its candidate version (offline)."""
    deps = await run_local(APT_CACHE.argv("depends", "--no-recommends", "--no-suggests", KERNEL_METAPACKAGE))
    names = [
        line.split(":", 1)[1].strip()
        for line in deps.stdout.splitlines()
        if line.strip().startswith("Depends:") and "linux-image-" in line
    ]
    if not deps.ok or not names:
        raise BootImageError(
            "kernel package",
            f"apt-cache knows no {KERNEL_METAPACKAGE} ({deps.stderr.strip() or 'no dependency'}); "
            "run apt-get update and try again",
        )
    show = await run_local(APT_CACHE.argv("show", "--no-all-versions", names[0]))
    versions = [line.split(":", 1)[1].strip() for line in show.stdout.splitlines() if line.startswith("Version:")]
    if not show.ok or not versions:
        raise BootImageError("kernel package", f"apt-cache shows no version of {names[0]}: {show.stderr.strip()}")
    return names[0], versions[0]


async def _unpacked_kernel(kernels: Path, package: str, version: str) -> Path:
    target = kernels / f"{package}_{version.replace(':', '%3a')}"
    if (target / "boot").is_dir():
        return target
    await asyncio.to_thread(kernels.mkdir, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=kernels, prefix=".download-") as tmp:
        os.chmod(tmp, 0o755)  # apt-get download drops privileges to _apt where it can
        download = APT_GET.argv("download", "-q", f"{package}={version}")
        got = await run_local(SH.argv("-c", 'cd "$1" && shift && exec "$@"', "sh", tmp, *download), timeout=900)
        debs = await asyncio.to_thread(lambda: sorted(Path(tmp).glob("*.deb")))
        if not got.ok or not debs:
            raise BootImageError(
                "kernel download", f"apt-get download {package}={version} failed: {got.stderr.strip()[-500:]}"
            )
        unpacked = Path(tmp) / "root"
        done = await run_local(DPKG_DEB.argv("-x", str(debs[0]), str(unpacked)), timeout=600)
        if not done.ok:
            raise BootImageError("kernel unpack", f"dpkg-deb -x {debs[0].name} failed: {done.stderr.strip()}")
        try:
            unpacked.rename(target)
        except OSError:
            if not (target / "boot").is_dir():  # another build won the race: theirs is as good
                raise
    return target


def _kernel_release(kernel_dir: Path) -> str:
    releases = sorted(p.name for p in (kernel_dir / "lib" / "modules").iterdir())
    if not releases:
        raise BootImageError("kernel package", f"no modules directory in {kernel_dir}")
    return releases[-1]


def module_depends(ko: bytes) -> list[str]:
    """The module names a ``.ko`` file depends on, from its ``.modinfo`` ``depends=`` string (pure)."""
    at = ko.find(b"\0depends=")
    if at < 0:
        return []
    value = ko[at + len(b"\0depends=") : ko.index(b"\0", at + 1)].decode()
    return [name.replace("-", "_") for name in value.split(",") if name]


def module_load_order(depends: Mapping[str, Sequence[str]], wanted: Iterable[str]) -> list[str]:
    """The module names to load, dependencies first, for ``wanted`` (pure).

    ``depends`` maps every module this kernel ships as a file to the modules it depends on; a wanted module
    that is not there (built into the kernel, or absent) is skipped.
    """
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in depends:
            return
        for dep in depends[name]:
            visit(dep)
        order.append(name)

    for name in wanted:
        visit(name.replace("-", "_"))
    return order


def _module_files(modules_root: Path) -> dict[str, Path]:
    return {p.name.removesuffix(".ko").replace("-", "_"): p for p in (modules_root / "kernel").rglob("*.ko")}


def _depends(files: Mapping[str, Path], wanted: Iterable[str]) -> dict[str, list[str]]:
    """``depends`` of ``wanted`` and everything they need, reading only those ``.ko`` files."""
    found: dict[str, list[str]] = {}
    todo = [w.replace("-", "_") for w in wanted]
    while todo:
        name = todo.pop()
        if name in found or name not in files:
            continue
        found[name] = module_depends(files[name].read_bytes())
        todo.extend(found[name])
    return found


def _build(kernel_dir: Path, busybox: Path, target: Path) -> None:
    release = _kernel_release(kernel_dir)
    modules_root = kernel_dir / "lib" / "modules" / release
    vmlinuz = kernel_dir / "boot" / f"vmlinuz-{release}"
    files = _module_files(modules_root)
    order = [files[name] for name in module_load_order(_depends(files, MODULES), MODULES)]
    archive = Cpio()
    for d in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp", "run"):
        archive.directory(d)
    archive.file("init", (FILES / "init").read_bytes(), mode=0o755)
    archive.file("bin/busybox", busybox.read_bytes(), mode=0o755)
    archive.file("bin/sh", b"busybox", mode=0o777, symlink=True)
    archive.file("bin/inventory", (FILES / "inventory").read_bytes(), mode=0o755)
    archive.file("etc/udhcpc.sh", (FILES / "udhcpc.sh").read_bytes(), mode=0o755)
    archive.file("etc/modules.order", "".join(f"{p.name}\n" for p in order).encode(), mode=0o644)
    for path in order:
        archive.file(f"lib/modules/{path.name}", path.read_bytes(), mode=0o644)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        staging = Path(tmp) / "image"
        staging.mkdir()
        shutil.copyfile(vmlinuz, staging / "vmlinuz")
        (staging / "initrd.img").write_bytes(gzip.compress(archive.finish(), compresslevel=6, mtime=0))
        try:
            staging.rename(target)
        except OSError:
            if not (target / "initrd.img").exists():
                raise


class Cpio:
    """A ``newc`` cpio archive, the format the kernel unpacks as an initramfs (deterministic: no times)."""

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._ino = 0

    def directory(self, name: str) -> None:
        self._entry(name, b"", 0o040755)

    def file(self, name: str, content: bytes, *, mode: int, symlink: bool = False) -> None:
        self._entry(name, content, (0o120000 if symlink else 0o100000) | mode)

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", b"", 0)
        return self._out.getvalue()

    def _entry(self, name: str, content: bytes, mode: int) -> None:
        self._ino += 1
        encoded = name.encode() + b"\0"
        fields = (self._ino, mode, 0, 0, 1, 0, len(content), 0, 0, 0, 0, len(encoded), 0)
        header = b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
        self._out.write(header + encoded)
        self._out.write(b"\0" * (-(len(header) + len(encoded)) % 4))
        self._out.write(content)
        self._out.write(b"\0" * (-len(content) % 4))
