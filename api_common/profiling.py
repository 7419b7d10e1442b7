"""Server-side profiling of one request, on request, into a folder the server owns.

Off unless the service was started with ``profiling`` enabled. A request opts in with
``?profile=pyinstrument`` or ``?profile=yappi``; the server chooses every file name (service,
profiler, time, counter) and writes only inside its ``profile_dir``: nothing the client sends
ever becomes part of a path.
"""

from __future__ import annotations

import io
import itertools
import os
import time
from pathlib import Path

from api_common.errors import ApiError

PROFILERS = ("pyinstrument", "yappi")
HEADER = "X-Profile-Files"
_counter = itertools.count(1)


def requested(value: str | None, enabled: bool) -> str | None:
    """The profiler a request asked for, or None; a 4xx if it asked for something unknown."""
    if value is None or value == "":
        return None
    if value not in PROFILERS:
        raise ApiError(422, "validation_error", f"profile must be one of {', '.join(PROFILERS)}")
    if not enabled:
        raise ApiError(403, "profiling_disabled", "this service was not started with profiling enabled")
    return value


class RequestProfile:
    """Profile one request with pyinstrument (async-aware) or yappi (wall clock)."""

    def __init__(self, profiler: str, service: str, folder: Path, is_async: bool):
        self.profiler = profiler
        self.service = service
        self.folder = folder
        self.is_async = is_async
        self._pyi = None

    def start(self) -> None:
        if self.profiler == "pyinstrument":
            from pyinstrument import Profiler

            self._pyi = Profiler(interval=0.0005, async_mode="enabled" if self.is_async else "disabled")
            self._pyi.start()
        else:
            import yappi

            yappi.clear_stats()
            yappi.set_clock_type("wall")  # so time spent awaiting or blocked on I/O shows
            yappi.start(builtins=False)

    def stop(self) -> list[str]:
        """Stop, write the files, return their names (relative to the profile folder)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = f"{self.service}-{self.profiler}-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{next(_counter)}"
        if self.profiler == "pyinstrument":
            assert self._pyi is not None
            self._pyi.stop()
            session = self._pyi.last_session
            assert session is not None
            session.save(str(self.folder / f"{stem}.pyisession"))
            _write(self.folder / f"{stem}.txt", self._pyi.output_text(show_all=False))
            _write(self.folder / f"{stem}.html", self._pyi.output_html())
            return [f"{stem}.pyisession", f"{stem}.txt", f"{stem}.html"]
        import yappi

        yappi.stop()
        out = io.StringIO()
        stats = yappi.get_func_stats()
        stats.sort("ttot", "desc").print_all(
            out=out,
            columns={0: ("name", 80), 1: ("ncall", 8), 2: ("tsub", 10), 3: ("ttot", 10), 4: ("tavg", 10)},
        )
        yappi.clear_stats()
        _write(self.folder / f"{stem}.txt", out.getvalue())
        return [f"{stem}.txt"]


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
