"""The install image: a Debian system on a raw disk image, built on this machine with debootstrap, cached.

Layout (``IMAGE_BYTES``, MBR disk id ``DISK_ID``):

    sector 0        GRUB's boot.img (the partition table kept)
    sectors 1..     GRUB's core.img (normal, linux, ext2, part_msdos built in; prefix (hd0,msdos1)/boot/grub)
    partition 1     the root filesystem, ext4, made by ``mke2fs -d`` from the debootstrap tree
    partition 2     the seed (``SEED_BYTES``): the installer writes each machine's own tar archive there
                    (hostname, SSH key); the installed system's ``harmony-seed`` unit unpacks it at first boot,
                    then deletes partition 2 and grows partition 1 and its filesystem to the end of the disk

Nothing is mounted and no loop device is used: ``mke2fs -d`` fills the filesystem from a directory,
``sfdisk`` writes the partition table into the file, and GRUB's two images are placed and patched here the
way ``grub-bios-setup`` does (the sector of core.img in boot.img, core.img's own block list). The image
holds no SSH host keys (each machine makes its own at first boot) and no hostname of its own.

It is served gzip-compressed (``disk.img.gz``); ``sha256`` is the compressed file's (the installer hashes
the download as it streams by; gunzip checks the CRC and length of what it writes), ``size_bytes`` the raw
image's.

Cache: ``<cache>/install/<digest>/`` (``disk.img.gz``, ``image.json``), where the digest hashes every
input (suite, mirror, packages, size, the files in ``install_files/``, GRUB's images). It is built in a
temporary directory and renamed into place; a second build with the same inputs downloads nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harmony.domain.capabilities.installation import InstallImage
from harmony.domain.errors import BootError
from harmony.infra.boot_image import DEFAULT_CACHE
from harmony.infra.local_process import run_local
from harmony.infra.programs import CHROOT, DEBOOTSTRAP, GRUB_MKIMAGE, GZIP, MKE2FS, SFDISK
from harmony.modules.agent.binary import sha256_of

SUITE = "bookworm"
MIRROR = os.environ.get("HARMONY_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = (
    "systemd-sysv", "udev", "linux-image-amd64", "openssh-server", "iproute2", "ca-certificates",
    "fdisk", "e2fsprogs",  # sfdisk and resize2fs: the first boot grows the root filesystem to the disk
)  # fmt: skip
DISK_ID = "48524d59"
"""The MBR disk identifier ("HRMY"): the root is ``PARTUUID=48524d59-01``, the seed ``-02``."""
SECTOR = 512
ROOT_START = 2048
IMAGE_BYTES = 1536 * 2**20
SEED_BYTES = 8 * 2**20
FILES = Path(__file__).with_name("install_files")
GRUB_DIR = Path("/usr/lib/grub/i386-pc")
GRUB_MODULES = ("biosdisk", "part_msdos", "ext2", "normal", "linux", "gzio", "echo", "test")
UNITS = ("systemd-networkd.service", "harmony-seed.service")


class InstallImageError(BootError):
    """The install image could not be built (debootstrap, the filesystem, the boot loader)."""

    def __init__(self, step: str, detail: str) -> None:
        self.step = step
        super().__init__(f"install image ({step})", detail)


@dataclass(frozen=True)
class BuiltInstallImage:
    image: InstallImage
    path: Path


def _seed_sector() -> int:
    return (IMAGE_BYTES - SEED_BYTES) // SECTOR


def _digest() -> str:
    h = hashlib.sha256(f"{SUITE}\0{MIRROR}\0{','.join(PACKAGES)}\0{IMAGE_BYTES}\0{SEED_BYTES}\0{DISK_ID}\0".encode())
    h.update(f"{','.join(GRUB_MODULES)}\0".encode())
    for f in sorted(FILES.iterdir()):
        h.update(f"\0{f.name}\0".encode() + f.read_bytes())
    for name in ("boot.img", "kernel.img"):
        grub_file = GRUB_DIR / name
        h.update(hashlib.sha256(grub_file.read_bytes()).digest() if grub_file.exists() else b"-")
    return h.hexdigest()


async def build_install_image(cache: Path = DEFAULT_CACHE) -> BuiltInstallImage:
    """The install image, from the cache when its inputs have not changed (else minutes: debootstrap)."""
    digest = _digest()
    target = cache / "install" / digest
    if not (target / "image.json").exists():
        await _build(target)
    meta = json.loads((target / "image.json").read_text())
    path = target / "disk.img.gz"
    if "compressed_sha256" not in meta:  # an image cached before the field existed
        meta["compressed_sha256"] = await asyncio.to_thread(sha256_of, path)
        await asyncio.to_thread(_write_meta, target, meta)
    image = InstallImage(
        digest=digest,
        file=f"install/{digest[:16]}/disk.img.gz",
        sha256=str(meta["compressed_sha256"]),
        size_bytes=int(meta["size_bytes"]),
        compressed_bytes=path.stat().st_size,
        seed_sector=_seed_sector(),
        suite=SUITE,
    )
    return BuiltInstallImage(image=image, path=path)


async def _run(step: str, argv: list[str], timeout: float) -> None:
    done = await run_local(argv, timeout=timeout)
    if not done.ok:
        raise InstallImageError(
            step, f"{argv[0]} exited {done.exit_status}: {(done.stderr or done.stdout).strip()[-800:]}"
        )


async def _build(target: Path) -> None:
    for f in ("boot.img", "moddep.lst"):
        if not (GRUB_DIR / f).exists():
            raise InstallImageError("boot loader", f"{GRUB_DIR / f} is missing: apt-get install grub-pc-bin")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        root = work / "root"
        debootstrap = DEBOOTSTRAP.argv("--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), MIRROR)
        await _run("debootstrap", debootstrap, timeout=3600)
        await asyncio.to_thread(_configure, root)
        await _run("services", CHROOT.argv(str(root), "systemctl", "enable", *UNITS), timeout=120)
        await asyncio.to_thread(_strip, root)
        rootfs = work / "root.ext4"
        root_bytes = _seed_sector() * SECTOR - ROOT_START * SECTOR
        mkfs = MKE2FS.argv(
            "-q", "-F", "-t", "ext4", "-L", "harmony-root", "-d", str(root), str(rootfs), f"{root_bytes // 1024}k"
        )
        await _run("root filesystem", mkfs, timeout=1800)
        image = work / "image"
        image.mkdir()
        disk = image / "disk.img"
        await asyncio.to_thread(_new_disk, disk)
        table = (
            f"label: dos\nlabel-id: 0x{DISK_ID}\n"
            f"start={ROOT_START}, size={root_bytes // SECTOR}, type=83, bootable\n"
            f"start={_seed_sector()}, size={SEED_BYTES // SECTOR}, type=da\n"
        )
        parted = await run_local(SFDISK.argv("-q", "--no-reread", "--no-tell-kernel", str(disk)), stdin=table.encode())
        if not parted.ok:
            raise InstallImageError("partitions", f"sfdisk failed: {parted.stderr.strip()}")
        core = work / "core.img"
        grub = GRUB_MKIMAGE.argv(
            "-O", "i386-pc", "-d", str(GRUB_DIR), "-o", str(core), "-p", "(hd0,msdos1)/boot/grub", *GRUB_MODULES
        )
        await _run("boot loader", grub, timeout=120)
        sha256 = await asyncio.to_thread(_assemble, disk, rootfs, core)
        await _run("compress", GZIP.argv("-1", "-n", str(disk)), timeout=1800)
        compressed = await asyncio.to_thread(sha256_of, image / "disk.img.gz")
        meta = {"sha256": sha256, "compressed_sha256": compressed, "size_bytes": IMAGE_BYTES, "suite": SUITE,
                "packages": list(PACKAGES)}  # fmt: skip
        _write_meta(image, meta)
        try:
            image.rename(target)
        except OSError:
            if not (target / "image.json").exists():  # another build won the race: theirs is as good
                raise


def _template(name: str) -> bytes:
    return (FILES / name).read_text().replace("@DISK_ID@", DISK_ID).encode()


def _configure(root: Path) -> None:
    """Harmony's files in the tree: fstab, boot loader config, network, the first-boot seed unit."""
    files = {
        "etc/fstab": f"PARTUUID={DISK_ID}-01 / ext4 errors=remount-ro 0 1\n".encode(),
        "etc/hostname": b"localhost\n",
        "etc/hosts": b"127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
        "boot/grub/grub.cfg": _template("grub.cfg"),
        "etc/systemd/network/80-harmony-dhcp.network": _template("80-harmony-dhcp.network"),
        "etc/systemd/system/harmony-seed.service": _template("harmony-seed.service"),
        "usr/local/sbin/harmony-seed": _template("harmony-seed"),
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o755 if name.startswith("usr/local/sbin/") else 0o644)


def _strip(root: Path) -> None:
    """What must not be shared by every machine (SSH host keys, machine id) or is not needed (apt lists)."""
    for key in (root / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    machine_id = root / "etc" / "machine-id"
    if machine_id.exists():
        machine_id.write_bytes(b"")  # systemd makes one at first boot ("uninitialized" semantics)
    for directory in (root / "var" / "lib" / "apt" / "lists", root / "var" / "cache" / "apt"):
        for entry in directory.glob("*"):
            if entry.is_file():
                entry.unlink()


def _new_disk(disk: Path) -> None:
    with disk.open("wb") as f:
        f.truncate(IMAGE_BYTES)


def _assemble(disk: Path, rootfs: Path, core_img: Path) -> str:
    """Copy the root filesystem into partition 1 and GRUB into the MBR gap; the raw image's sha256."""
    boot = bytearray((GRUB_DIR / "boot.img").read_bytes())
    core = bytearray(core_img.read_bytes())
    core_sectors = -(-len(core) // SECTOR)
    if 1 + core_sectors >= ROOT_START:
        raise InstallImageError(
            "boot loader", f"core.img is {len(core)} bytes: it does not fit before sector {ROOT_START}"
        )
    struct.pack_into("<Q", boot, 0x5C, 1)  # boot.img loads core.img's first sector from sector 1
    boot[0x66:0x68] = b"\x90\x90"  # trust the BIOS's drive number (grub-bios-setup does so for hard disks)
    struct.pack_into("<QH", core, SECTOR - 12, 2, core_sectors - 1)  # the rest of core.img: sectors 2..
    with disk.open("r+b") as out:
        table = out.read(SECTOR)
        out.seek(0)
        out.write(bytes(boot[:0x1B8]) + table[0x1B8:])
        out.seek(SECTOR)
        out.write(bytes(core))
        out.seek(ROOT_START * SECTOR)
        with rootfs.open("rb") as src:
            while chunk := src.read(2**20):
                if chunk.count(0) == len(chunk):
                    out.seek(len(chunk), os.SEEK_CUR)  # keep the image sparse
                else:
                    out.write(chunk)
    return sha256_of(disk)


def _write_meta(directory: Path, meta: Mapping[str, object]) -> None:
    tmp = directory / ".image.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    tmp.rename(directory / "image.json")
