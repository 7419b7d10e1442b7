"""Build the images' wheelhouse on the host, from the lock (requirements/dev.txt, exported from uv.lock).

An image build reaches no network: pip installs there from this folder only (``--no-index``). Every file is
checked against the lock's hashes here as it is downloaded (``pip wheel --require-hashes``), and again in the
image. Every pin of today's lock has a wheel on PyPI; a pin that ships only an sdist would be built into a wheel
here, whose hash is not the lock's, and the image build would refuse it by name.

The environment markers are for the images' Python, not this one: a pin whose marker holds for any Linux
CPython 3.11 (Debian 12's 3.11.2 in the base docker/base.sh builds, the latest 3.11 in python:3.11-slim) is
fetched, even where it is false on this host (``async-timeout ; python_full_version < '3.11.3'``).

    python docker/wheelhouse.py requirements/dev.txt docker/wheelhouse
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import Marker

LINUX_CPYTHON_311 = [
    {"python_version": "3.11", "python_full_version": v, "implementation_name": "cpython",
     "platform_python_implementation": "CPython", "sys_platform": "linux", "platform_system": "Linux",
     "os_name": "posix", "platform_machine": "x86_64"}
    for v in ("3.11.2", "3.11.15")
]  # fmt: skip


def requirements(lock: Path) -> list[tuple[str, str | None, list[str]]]:
    """(pin, marker, hash options) for each requirement of an exported lock file."""
    out: list[tuple[str, str | None, list[str]]] = []
    for line in lock.read_text().splitlines():
        text = line.strip().rstrip("\\").strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("--hash="):
            out[-1][2].append(text)
            continue
        pin, _, marker = text.partition(";")
        out.append((pin.strip(), marker.strip() or None, []))
    return out


def for_images(reqs: list[tuple[str, str | None, list[str]]]) -> list[str]:
    """The lines of a requirements file that pip on this host will fetch for the images: markers resolved."""
    lines = []
    for pin, marker, hashes in reqs:
        if marker and not any(Marker(marker).evaluate(env) for env in LINUX_CPYTHON_311):
            continue
        lines.append(" ".join([pin, *hashes]))
    return lines


def main(lock: str, dest: str) -> int:
    lines = for_images(requirements(Path(lock)))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--require-hashes", "--no-deps", "-r", f.name, "-w", dest]
    print(f"wheelhouse: {len(lines)} pins of {lock} into {dest}", flush=True)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
