"""The advisor's report, rebuilt from its run folder: the recommendation first, then the Pareto frontier of capacity
against memory, then every candidate's fate and the evidence it rests on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmark.advise import race as race_
from benchmark.loadgen import capacity, stats
from benchmark.render.tables import Section, num, ratio_text
from benchmark.rundir import load_manifest


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def frontier(rows: list[dict]) -> list[str]:
    """The candidates no other beats on both capacity (higher) and memory (lower): the Pareto frontier."""
    measured = [r for r in rows if r.get("capacity_qps") and r.get("model_rss_mb")]
    return [r["name"] for r in measured
            if not any(o["capacity_qps"] >= r["capacity_qps"] and o["model_rss_mb"] <= r["model_rss_mb"]
                       and (o["capacity_qps"], o["model_rss_mb"]) != (r["capacity_qps"], r["model_rss_mb"])
                       for o in measured)]  # fmt: skip


def summarise(run: Path) -> dict[str, Any]:
    """Every figure of an advise run, from its files."""
    m = load_manifest(run)
    opts = m.get("options", {})
    race = _read(run / "race.json") or {}
    fates = race.get("fates", {})
    rows = []
    for c in opts.get("candidates", []):
        folder = run / "candidates" / c["name"]
        status = _read(folder / "status.json") or {}
        cap = capacity.load(folder / "loadgen")
        fate = fates.get(c["name"], {})
        rows.append({
            "name": c["name"], "server": c["server"], "chain": c["chain"], "overrides": c["overrides"],
            "failed": status.get("failed"), "single_p50_ms": status.get("single_p50_ms"),
            "model_rss_mb": status.get("model_rss_mb"), "capacity_qps": cap.qps if cap else None,
            "low": cap.low if cap else None, "high": cap.high if cap else None,
            "capacity_text": cap.text() if cap else "-", "fate": fate.get("fate", "failed" if status.get("failed")
                                                                           else "not decided"),
            "round": fate.get("round"), "ratio": fate.get("ratio"), "probes": len(cap.probes) if cap else 0,
            "probe_s": round(sum(p.duration_s for p in cap.probes), 1) if cap else 0.0,
            "cpu_ms": cap.cpu_ms_per_request() if cap else None,
        })  # fmt: skip
    recommended = _read(run / "recommended.json")
    return {
        "kind": "advise", "options": opts, "model": _read(run / "model.json") or {}, "rows": rows,
        "frontier": frontier(rows), "recommended": recommended, "rounds": race.get("rounds"),
        "stopped": race.get("stopped"), "events": race.get("events", []),
    }  # fmt: skip


def _runner_up(summary: dict, chosen: str) -> dict | None:
    others = [r for r in summary["rows"] if r["name"] != chosen and r.get("capacity_qps")]
    return max(others, key=lambda r: r["capacity_qps"]) if others else None


def title(summary: dict) -> str:
    model, opts = summary["model"], summary["options"]
    return f"How to serve {Path(model.get('path') or '?').name} on this machine ({opts.get('cores')} cores)"


def headline(summary: dict) -> list[str]:
    """The answer in a few lines: what to run, what it carries, the runner-up and how far apart."""
    opts, model = summary["options"], summary["model"]
    bound = opts.get("capacity_bound_ms", 250)
    rec = summary.get("recommended")
    if not rec:
        if summary.get("rounds") is None:  # no race.json: the run ended before its race did
            return ["no recommendation: the run ended before its race did (the candidates' figures so far are below)"]
        return [f"no recommendation: no candidate held p99 <= {bound:.0f} ms (see each candidate's fate below)"]
    row = next(r for r in summary["rows"] if r["name"] == rec["candidate"])
    where, tiers = ("through the scoring handler", "both tiers") if opts.get("chain") else ("", "the tier")
    lines = [
        f"run: {rec['candidate']} ({rec['service']}; {', '.join(f'{k}={v}' for k, v in row['overrides'].items())})",
        f"  capacity {where + ' ' if where else ''}at p99 <= {bound:.0f} ms: {row['capacity_text']} "
        f"(95% interval, {summary['rounds']} rounds)",
        f"  single request p50 {num(row['single_p50_ms'], '.1f')} ms; CPU {num(row['cpu_ms'], '.2f')} ms per request "
        f"(under capacity); memory {num(row['model_rss_mb'], '.0f')} MB (every process of {tiers})",
    ]  # fmt: skip
    up = _runner_up(summary, rec["candidate"])
    if up:
        ratio = up.get("ratio") or {}
        lines.append(f"  runner-up: {up['name']} {up['capacity_text']}; against the pick: {ratio_text(ratio or None)}"
                     + (" (the pick uses less memory)" if up["fate"] == "equivalent" else ""))  # fmt: skip
    lines.append(
        f"  model: {model.get('kind')} {model.get('path')}, input {model.get('shape')}, one call "
        f"{num(model.get('single_ms'), '.2f')} ms in Python; this machine, {opts.get('cores')} cores"
    )
    lines.append("  start it: lab up --config " + "recommended.json (beside this report; also .env and a compose "
                 "override)")  # fmt: skip
    return lines


def sections(summary: dict) -> list[Section]:
    head = Section("Advice: what to run", "\n".join(headline(summary)), verdict=True, image="pareto.png")
    rows = sorted(summary["rows"], key=lambda r: -(r.get("capacity_qps") or 0))
    table = [[r["name"] + (" *" if r["name"] in summary["frontier"] else ""), r["capacity_text"],
              num(r["single_p50_ms"], ".1f"), num(r.get("cpu_ms"), ".2f"), num(r["model_rss_mb"], ".0f"), _fate(r),
              r["probes"], num(r["probe_s"])]
             for r in rows]  # fmt: skip
    board = Section(
        "Every candidate and its fate",
        f"Screened by each one's bracket (dropped when it failed twice at a load the leader passed at "
        f"{race_.SCREEN_MARGIN:g}x), then raced in interleaved rounds; a candidate is dropped only when its ratio "
        f"to the leader, paired by round, has its 95% interval wholly under {1 / stats.FACTOR:.2f}x; * marks the "
        f"Pareto frontier (no other candidate has both more capacity and less memory). " + _stopped(summary),
        ["candidate", "capacity (QPS)", "p50 ms", "CPU ms/request", "memory MB", "fate", "probes", "probe s"], table,
    )  # fmt: skip
    space = summary["options"].get("left_out") or []
    notes = Section("The space", "Servers left out: " + ("; ".join(space) if space else "none"), fold=True)
    log = Section("The race, decision by decision", "\n".join(summary["events"]) or "-", fold=True)
    return [head, board, notes, log]


def _stopped(summary: dict) -> str:
    if summary["rounds"] is None:
        return "The race did not end: the run stopped before it."
    return f"The race stopped after {summary['rounds']} rounds: {summary['stopped']}."


def _fate(row: dict) -> str:
    if row["fate"] == "failed":
        return f"failed: {row.get('failed') or 'no probe passed'}"
    if row["fate"] == "dropped" and row["round"] == 0:  # by the screening (race._screen): two failures, one pass
        r = row["ratio"]
        return (
            f"dropped in screening: failed twice at {r['failed_qps']:.0f} QPS, the leader passed {r['passed_qps']:.0f}"
        )
    if row["fate"] == "dropped":
        return f"dropped after round {row['round']}: {ratio_text(row['ratio'])}"
    if row["fate"] == "equivalent":
        return ratio_text(row["ratio"])  # "equivalent: 0.98x (0.93-1.04)"
    if row["fate"] == "unresolved":  # at the end, or stopped once the rounds left could not decide it
        return f"unresolved after round {row['round']}: {ratio_text(row['ratio']).split(': ', 1)[-1]}"
    return row["fate"]


def plots(summary: dict) -> dict[str, bytes]:
    from benchmark.render import plots as p

    rows = [r for r in summary["rows"] if r.get("capacity_qps") and r.get("model_rss_mb")]
    return {"pareto.png": p.pareto(rows, summary["frontier"])} if rows else {}
