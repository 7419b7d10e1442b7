"""The lock: ``uv.lock`` (resolved by uv from pyproject.toml) and its exports under ``requirements/``.

Every install goes through an export, with pip and the lock's hashes: the virtualenv of ``make`` (dev.txt),
the images (services.txt; services-test.txt for the unit tests of the build; lab.txt for the load generator).
One lock, so each install holds the same version of every package it shares with another.

    python -m lab.lockfile export    # after `uv lock` (make lock)
    python -m lab.lockfile check     # exit 1 when an export is not what uv.lock gives
    python -m lab.lockfile servers   # model-servers.txt and triton.txt from their .in files (make lock-servers)

The model servers and torch are pinned apart (requirements/model-servers.in says why): pip resolves them in a
scratch virtualenv on top of dev.txt, held to the lock's versions but for ``LOOSE``, and the packages it adds
or changes are written with their hashes.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
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


# Resolved apart from uv.lock (model-servers.in says why): each source, its pinned file, and whether it goes on
# top of dev.txt (the make virtualenv) or in a virtualenv of its own (triton.in: PyTriton needs numpy < 2).
SERVER_LOCKS = {"model-servers.in": ("model-servers.txt", True), "triton.in": ("triton.txt", False)}
# Lock versions the model servers cannot share: bentoml 1.4.40 needs opentelemetry-instrumentation ~=0.41b0's
# line, whose newest (0.66b1) wants opentelemetry-api 1.45.1, not the lock's 1.45.2 (no lab package imports it).
LOOSE = ("opentelemetry-api",)


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>;\[ ]", requirement.strip(), maxsplit=1)[0].lower())


def pins(text: str) -> dict[str, str]:
    """``name: version`` of each pinned line of a requirements file that applies to this interpreter."""
    from packaging.markers import Marker  # not a service's dependency: the images run the lab without it

    out = {}
    for line in text.splitlines():
        line = line.strip()
        if "==" not in line or line.startswith(("#", "--")):
            continue
        spec, _, marker = line.rstrip(" \\").partition(";")
        if marker.strip() and not Marker(marker).evaluate():  # another Python's or platform's pin
            continue
        out[_name(spec)] = spec.split("==")[1].strip()
    return out


def _run(*args) -> str:
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def resolve(scratch: Path, source: Path, on_lock: bool) -> str:
    """A pinned, hashed requirements file for ``source``: with ``on_lock``, what pip adds to dev.txt (held to
    the lock's versions but for ``LOOSE``); else a whole virtualenv's, the lab's base dependencies resolved
    beside ``source`` (the lab itself not included: it is installed from the checkout)."""
    py = scratch / "venv" / "bin" / "python"
    _run(sys.executable, "-m", "venv", scratch / "venv")
    locked: dict[str, str] = {}
    if on_lock:
        _run(py, "-m", "pip", "install", "--no-deps", "--require-hashes", "-r", ROOT / "requirements" / "dev.txt")
        locked = pins((ROOT / "requirements" / "dev.txt").read_text())
        constraints = scratch / "constraints.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in locked.items() if n not in LOOSE))
        _run(py, "-m", "pip", "install", "-c", constraints, "-r", source)
    else:
        _run(py, "-m", "pip", "install", "-r", source, "-e", ROOT)
    frozen = pins(_run(py, "-m", "pip", "freeze", "--exclude-editable"))
    added = {n: v for n, v in frozen.items() if locked.get(n) != v}
    wheels, reqs = scratch / "wheels", scratch / "added.txt"
    reqs.write_text("".join(f"{n}=={v}\n" for n, v in sorted(added.items())))
    _run(py, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", wheels, "-r", reqs)
    by_name: dict[str, list[Path]] = {}
    for wheel in wheels.iterdir():
        by_name.setdefault(_name(wheel.name.split("-")[0]), []).append(wheel)
    how = "on top of dev.txt" if on_lock else "in a virtualenv of their own"
    lines = [f"# Generated by `python -m lab.lockfile servers` (make lock-servers) from {source.name}: install with\n"
             f"# pip --no-deps --require-hashes {how}. Do not edit.\n"]  # fmt: skip
    for n, v in sorted(added.items()):
        digests = sorted(hashlib.sha256(w.read_bytes()).hexdigest() for w in by_name[n])
        lines.append(f"{n}=={v} \\\n" + " \\\n".join(f"    --hash=sha256:{d}" for d in digests) + "\n")
    return "".join(lines)


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
    if argv[:1] == ["servers"]:
        for source, (target, on_lock) in SERVER_LOCKS.items():
            if argv[1:] and source not in argv[1:]:
                continue
            with tempfile.TemporaryDirectory() as scratch:
                text = resolve(Path(scratch), ROOT / "requirements" / source, on_lock)
            (ROOT / "requirements" / target).write_text(text)
            print(f"requirements/{target}: resolved from {source}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
