"""``lab parity``: the images against ``make up``, both chains, interleaved, and each chain's image/native ratio.

The images (``make compose-up``, on the README's ports) and the lab's own processes (started here on free ports,
beside a Redis of their own) are both up at once; the four capacity searches (each chain, each way of running it)
run interleaved, round by round, one probe at a time, so that a drift of the shared machine hits both ways alike
and each chain's ratio is paired by round. The question it answers: does a user who follows the original README
(containers) measure what ``make up`` measures? It holds when each ratio's interval holds 1 or lies above
``PARITY`` (issue 36).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from api_common.contract import CHAINS
from api_common.ports import free_port
from benchmark.loadgen import capacity
from benchmark.loadgen import search as loadgen_search
from benchmark.profiles import Profile
from benchmark.progress import Progress
from benchmark.render.tables import Section, num, ratio_text
from benchmark.rundir import Run, load_manifest, manifest, new_run_dir
from benchmark.snapshot import settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control
from lab.ports import service_ports
from lab.settings import LabSettings
from lab.stack import build_stack

PARITY = 0.9  # the images hold parity when image/native's 95% interval holds 1 or lies above this
IMAGES = {"sync": "http://127.0.0.1:5001", "async": "http://127.0.0.1:8001"}  # compose's ports: the README's
WAYS = ("native", "image")


def run(lab: LabSettings, profile: Profile, images: dict[str, str] | None = None,
        progress: Callable[[str], None] | Progress = print, compose_files: str = "") -> Path:  # fmt: skip
    """Measure both chains in the images at ``images`` (the scoring handlers' base URLs) and on the lab's own
    processes, interleaved; returns the run folder (its report rebuilt from the saved probes)."""
    from benchmark.report.build import build

    images = images or IMAGES
    redis_port = free_port()
    native = build_stack(service_ports(redis_port))
    image = build_stack().at_urls(images)
    path = new_run_dir(lab.results_dir, "parity")
    options = profile.as_dict() | {
        "profile": profile.name,
        "kind": "parity",
        "images": images,
        "compose_files": compose_files.split(),
    }
    run_ = Run(path, manifest({"native": settings_snapshot(native)}, options))
    plab = lab.model_copy(update={"state_dir": lab.state_dir / "parity"})
    control.cleanup_stale(plab, progress)
    progress(f"run folder: {path}")
    try:
        with run_.recording():
            verify(image)  # a wrong answer from the images ends the run before any load
            control.start(native, plab, native.names(), log=lambda *_: None)
            verify(native)
            searches = {}
            for stack, way in ((native, "native"), (image, "image")):
                warm_up(stack)
                for chain in CHAINS:
                    searches[f"{way}-{chain}"] = capacity.Search(
                        stack.scoring(chain).predict_url, profile.capacity_bound_ms, profile.capacity_probe_s,
                        path / "loadgen" / f"{way}-{chain}", budget_s=profile.capacity_budget_s,
                        entities=stack.redis.entities, progress=progress, label=f"{way}-{chain} ",
                        rounds=profile.capacity_rounds,
                    )  # fmt: skip
            progress(f"capacity at p99 <= {profile.capacity_bound_ms:.0f} ms: {len(searches)} searches interleaved, "
                     f"about {len(searches) * loadgen_search.expected_s(profile) / 60:.0f} min")  # fmt: skip
            for name, cap in capacity.interleaved(searches).items():
                progress(f"    {name}: {cap.text()}")
    finally:
        control.down(plab, log=lambda *_: None)
        build(path)
    return path


def summarise(run: Path) -> dict[str, Any]:
    """Each chain's capacity both ways, and image/native paired by round, from the saved probes."""
    opts = load_manifest(run).get("options", {})
    chains = {}
    for chain in CHAINS:
        caps = {way: capacity.load(run / "loadgen" / f"{way}-{chain}") for way in WAYS}
        ratio = caps["image"].ratio_to(caps["native"]) if caps["image"] else None
        holds = None
        if ratio and ratio.get("low") is not None:
            holds = ratio["low"] >= PARITY or ratio["low"] <= 1 <= ratio["high"]
        chains[chain] = {
            **{way: {"text": c.text(), "qps": c.qps, "low": c.low, "high": c.high} if c else None
               for way, c in caps.items()},
            "ratio": ratio, "holds": holds,
        }  # fmt: skip
    return {"kind": "parity", "options": opts, "chains": chains}


def sections(summary: dict[str, Any]) -> list[Section]:
    chains = summary["chains"]
    lines = []
    for chain, c in chains.items():
        r = c["ratio"] or {}
        if c["holds"] is None:
            said = "not resolved (no interval)"
        elif c["holds"]:
            said = "parity holds: " + ("the interval holds 1" if r["low"] <= 1 <= r["high"] else f"above {PARITY:g}")
        else:
            said = f"parity does NOT hold: the images measure {1 - r['ratio']:.0%} less" if r["ratio"] < 1 else (
                "parity does NOT hold: the images measure more")  # fmt: skip
        lines.append(f"{chain}: image / make up {r.get('ratio', 0):.2f}x ({num(r.get('low'), '.2f')}-"
                     f"{num(r.get('high'), '.2f')}): {said}")  # fmt: skip
    head = Section("Do the images measure what make up measures?", "\n".join(lines), verdict=True)
    rows = [[chain, (c["native"] or {}).get("text", "-"), (c["image"] or {}).get("text", "-"), ratio_text(c["ratio"]),
             num((c["ratio"] or {}).get("rounds"), "d") if (c["ratio"] or {}).get("rounds") is not None else "-"]
            for chain, c in chains.items()]  # fmt: skip
    bound = summary["options"].get("capacity_bound_ms", 250)
    table = Section(
        f"Capacity at p99 <= {bound:.0f} ms, both ways, interleaved",
        f"The images at {', '.join(summary['options'].get('images', {}).values())} (make compose-up"
        f"{''.join(' -f ' + f for f in summary['options'].get('compose_files', []))}); make up's "
        "processes on free ports beside their own Redis. LoadGen, open loop; 95% intervals; the ratio paired by round.",
        ["chain", "make up (QPS)", "images (QPS)", "image / native", "rounds"], rows,
    )  # fmt: skip
    return [head, table]


def plots(summary: dict[str, Any]) -> dict[str, bytes]:
    return {}  # two rows: the table says it


def title(summary: dict[str, Any]) -> str:
    return "ML serving lab: the images against make up"
