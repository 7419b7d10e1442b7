"""The lock: ``uv.lock`` (resolved by uv from pyproject.toml) and its exports under ``requirements/``.

Every install goes through an export, with pip and the lock's hashes: the virtualenv of ``make`` (dev.txt),
the images (services.txt; services-test.txt for the unit tests of the build; lab.txt for the load generator).
One lock, so each install holds the same version of every package it shares with another.

    python -m lab.lockfile export    # after `uv lock` (make lock)
    python -m lab.lockfile check     # exit 1 when an export is not what uv.lock gives
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"
# Each export and the extras it holds on top of the base dependencies (the services').
EXPORTS = {"services.txt": (), "services-test.txt": ("test",), "lab.txt": ("lab",), "dev.txt": ("dev",)}


def lock_hash(lock: Path = LOCK) -> str | None:
    """The sha256 of uv.lock, which a run's manifest records; None outside a checkout."""
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None


def exported(extras: tuple[str, ...], root: Path = ROOT) -> str:
    """What uv exports from the lock for these extras, as pip reads it (pins and hashes, markers kept)."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    cmd = [uv, "export", "--frozen", "--no-emit-project", "--no-header", "--quiet", "--format", "requirements-txt"]
    for extra in extras:
        cmd += ["--extra", extra]
    return subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout


def stale(root: Path = ROOT) -> list[str]:
    """The exports that differ from what the lock gives now."""
    return [n for n, extras in EXPORTS.items() if (root / "requirements" / n).read_text() != exported(extras, root)]


def main(argv: list[str]) -> int:
    if argv[:1] == ["export"]:
        for name, extras in EXPORTS.items():
            (ROOT / "requirements" / name).write_text(exported(extras))
            print(f"requirements/{name}: exported from uv.lock")
        return 0
    if argv[:1] == ["check"]:
        bad = stale()
        for name in bad:
            print(f"requirements/{name} is not what uv.lock gives: run make lock", file=sys.stderr)
        return 1 if bad else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
