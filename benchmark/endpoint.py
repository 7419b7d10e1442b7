"""Capacity of any endpoint: ``lab capacity --url URL --body FILE`` measures a service of the user's own (or one
tier of the lab's) with the lab's method: LoadGen's open loop, the same bracket and rounds, the same interval.

Every query sends the one JSON body of ``--body``; only answers of 200 count as served. The endpoint is checked
first (one request must answer 200), warmed up, then searched; the run folder keeps the body beside the probes, and
its report is rebuilt from them like any other (``lab report``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmark.loadgen import capacity
from benchmark.profiles import Profile
from benchmark.progress import Progress
from benchmark.render.tables import Section, num
from benchmark.rundir import Run, load_manifest, manifest, new_run_dir
from lab.settings import LabSettings

WARM_UP_REQUESTS = 20
FOLDER = "loadgen/endpoint"


class BadEndpoint(ValueError):
    """The endpoint or its body cannot be measured: said in one line, before any load is sent."""


def check(url: str, body: Path) -> None:
    """The body is a JSON file and the endpoint answers it with 200; else :class:`BadEndpoint`, saying why."""
    try:
        json.loads(body.read_bytes())
    except OSError as exc:
        raise BadEndpoint(f"--body {body}: {exc.strerror.lower() if exc.strerror else exc}") from None
    except ValueError as exc:
        raise BadEndpoint(f"--body {body}: not JSON ({exc})") from None
    try:
        answer = httpx.post(url, content=body.read_bytes(), headers={"Content-Type": "application/json"}, timeout=10)
    except httpx.HTTPError as exc:
        raise BadEndpoint(f"{url}: no answer ({type(exc).__name__}: {exc})") from None
    if answer.status_code != 200:
        raise BadEndpoint(f"{url} answered {answer.status_code} to the body ({answer.text[:200]!r}): the lab measures "
                          "the answers of 200 only")  # fmt: skip


def run(
    url: str, body: Path, lab: LabSettings, profile: Profile, progress: Callable[[str], None] | Progress = print,
    publish: Callable[[Path], object] = lambda p: p,
) -> Path:  # fmt: skip
    """Check, warm up and measure the endpoint; returns the run folder (``publish`` builds its report)."""
    check(url, body)
    progress = Progress.of(progress)
    path = new_run_dir(lab.results_dir, "capacity-endpoint")
    shutil.copyfile(body, path / "body.json")  # what was sent, beside what it measured
    options = profile.as_dict() | {"profile": profile.name, "kind": "endpoint", "url": url, "body": str(body)}
    run_ = Run(path, manifest({"endpoint": {"remote": True, "url": url}}, options))
    progress(f"run folder: {path}")
    try:
        with run_.recording():
            with httpx.Client(timeout=10) as client:  # connections opened, code paths loaded: not measured
                for _ in range(WARM_UP_REQUESTS):
                    client.post(url, content=body.read_bytes(), headers={"Content-Type": "application/json"})
            search = capacity.Search(url, profile.capacity_bound_ms, profile.capacity_probe_s, path / FOLDER,
                                     budget_s=profile.capacity_budget_s, progress=progress, label="endpoint ",
                                     rounds=profile.capacity_rounds, body=path / "body.json")  # fmt: skip
            cap = capacity.interleaved({"endpoint": search}, on_left=progress.left)["endpoint"]
            progress(f"    endpoint capacity: {cap.text()}")
    finally:
        progress.close()
        publish(path)
    return path


def summarise(run: Path) -> dict[str, Any]:
    """The endpoint's figures, from its saved probes."""
    m = load_manifest(run)
    opts = m.get("options", {})
    cap = capacity.load(run / FOLDER)
    return {
        "kind": "endpoint", "options": opts, "url": opts.get("url"),
        "capacity_text": cap.text() if cap else "-", "capacity_qps": cap.qps if cap else None,
        "low": cap.low if cap else None, "high": cap.high if cap else None,
        "rounds": cap.rounds if cap else 0, "rounds_found": cap.rounds_found() if cap else [],
        "probes": [{"qps": p.target_qps, "round": p.round, "p99_ms": p.p99_ms, "verdict": p.verdict,
                    "errors": p.errors} for p in cap.probes] if cap else [],
    }  # fmt: skip


def sections(summary: dict[str, Any]) -> list[Section]:
    bound = summary["options"].get("capacity_bound_ms", 250)
    figures = " / ".join(f"{r['side']}{num(r['qps'], '.0f')}" for r in summary["rounds_found"])
    alone = "the bracket alone: no round fit the budget"
    rounds = f"{summary['rounds']} rounds: {figures}" if summary["rounds"] else alone
    head = Section(
        "Capacity of the endpoint",
        f"{summary['url']}: {summary['capacity_text']} at p99 <= {bound:.0f} ms (LoadGen, open loop; 95% interval, "
        f"{rounds})",
        verdict=True,
    )  # fmt: skip
    rows = [[num(p["qps"], ".0f"), p["round"] or "bracket", num(p["p99_ms"], ".0f"), p["errors"], p["verdict"]]
            for p in summary["probes"]]  # fmt: skip
    return [head, Section("Probes", "", ["QPS", "round", "p99 ms", "errors", "verdict"], rows)]


def plots(summary: dict[str, Any]) -> dict[str, bytes]:
    return {}  # its probes' table says it all
