"""An advisor's pick checked against an exhaustive run over the same candidates (``lab advise --exhaustive``: every
candidate through every round, none dropped): is any candidate better than the pick by the decision rule, measured in
the exhaustive run's own rounds, and what did each run cost?

    python -m benchmark.advise.against EXHAUSTIVE_RUN ADVISE_RUN

prints one JSON object: each run's wall time and probing, the pick, and every candidate's ratio to the pick in the
exhaustive run with its verdict (``stats.Decision``); ``better`` lists those whose verdict is "higher".
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from benchmark.loadgen import capacity
from benchmark.rundir import load_manifest


def _wall_s(run: Path) -> float:
    m = load_manifest(run)
    return (datetime.fromisoformat(m["ended"]) - datetime.fromisoformat(m["started"])).total_seconds()


def _capacities(run: Path) -> dict[str, capacity.Capacity]:
    found = {}
    for folder in sorted((run / "candidates").iterdir()):
        cap = capacity.load(folder / "loadgen")
        if cap is not None:
            found[folder.name] = cap
    return found


def check(exhaustive: Path, advised: Path) -> dict:
    pick = json.loads((advised / "recommended.json").read_text())["candidate"]
    grid = _capacities(exhaustive)
    rows = {}
    for name, cap in sorted(grid.items(), key=lambda kv: -kv[1].qps):
        ratio = cap.ratio_to(grid.get(pick)) if name != pick else None
        rows[name] = {"qps": cap.qps, "low": cap.low, "high": cap.high, "rounds": cap.rounds,
                      "ratio_to_pick": ratio}  # fmt: skip
    probing = lambda caps: round(sum(p.duration_s for c in caps.values() for p in c.probes), 1)  # noqa: E731
    return {
        "pick": pick,
        "better": [n for n, r in rows.items() if r["ratio_to_pick"] and r["ratio_to_pick"]["verdict"] == "higher"],
        "exhaustive": {
            "run": str(exhaustive),
            "wall_s": _wall_s(exhaustive),
            "probe_s": probing(grid),
            "candidates": len(grid),
        },  # fmt: skip
        "advised": {"run": str(advised), "wall_s": _wall_s(advised), "probe_s": probing(_capacities(advised))},
        "time_share": _wall_s(advised) / _wall_s(exhaustive),
        "rows": rows,
    }


if __name__ == "__main__":
    print(json.dumps(check(Path(sys.argv[1]), Path(sys.argv[2])), indent=1))
