"""The comparison's rows (``lab compare``): each variant's figures from its folder's raw files, and the joins
between them (against its chain's default, its unbatched twin, its chain's floor), all in one run.

What a variant is (its chain, role, baseline, model kind, whether it is a floor or batches, its sweep point)
is read from the run's manifest, which records what the variant declared (``lab.variants.Described``);
a run written before the manifest recorded it (format 1) is read by ``described_format_1``, the one place
that still tells a variant by its name.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from benchmark import analysis as an
from benchmark.loadgen import capacity
from benchmark.report import compare_targets as targets
from benchmark.rundir import load_manifest
from lab.variants import Described


def described_format_1(name: str, known: dict, settings: dict, swept: str = "") -> Described:
    """A variant of a run whose manifest recorded only its chain, change and baseline (or nothing): the rest from
    its settings, and from its name as the report then read it (the chain's default is named after the chain,
    an unbatched twin is the name without ``batch`` and ``queue``, a sweep's point has its variant's)."""
    chain = known.get("chain") or ("sync" if name.startswith("sync") else "async")
    scoring, model = settings.get(f"scoring-{chain}", {}), settings.get(f"model-{chain}", {})
    parts = (swept or name).split("-")
    batching = model.get("max_wait_ms") is not None or "queue" in parts
    baseline = known.get("baseline") or ("-".join(p for p in parts if p not in ("batch", "queue")) if batching else "")
    role = "default" if name == chain else "original" if name.endswith("-seed") else ""
    return Described(name, chain, known.get("change", ""), role, chain, baseline, model.get("kind", "io"),
                     scoring.get("app") == "bare", batching, swept=swept)  # fmt: skip


def described(manifest: dict, name: str) -> Described:
    """What variant ``name`` of the run declared, as its manifest recorded it."""
    opts = manifest.get("options", {})
    known = opts.get("described", {}).get(name, {})
    if "role" in known:
        return Described(**{f.name: known[f.name] for f in fields(Described) if f.name in known})
    sweep = opts.get("sweep") or {}
    points = sweep.get("points") or [n for n in opts.get("variants", []) if n.startswith(f"{sweep.get('variant')}-w")]
    swept = sweep["variant"] if name in points else ""
    return described_format_1(name, known, manifest.get("settings", {}).get(name, {}), swept)


def variant_figures(folder: Path, name: str, manifest: dict) -> dict[str, Any]:
    """Every figure of one variant, from its folder's raw files and what the manifest recorded of it."""
    opts = manifest.get("options", {})
    status = json.loads((folder / "status.json").read_text()) if (folder / "status.json").exists() else {}
    if "skipped" in status:
        return {"name": name, "skipped": status["skipped"]}
    d = described(manifest, name)
    chain = d.chain
    loc = folder / "locust"
    out: dict[str, Any] = asdict(d)
    single = an.load_requests(loc / f"{chain}-response_time")
    if single:
        s = an.summarise(single)
        server, redis_ms, models = s.server_ms, s.redis_ms, s.models_ms
        out |= {
            "single_p50_ms": s.p50_ms,
            "single_p99_ms": s.p99_ms,
            # Split of the median request: outside the handler (network, server, framework), Redis, models, rest.
            "split_ms": {
                "network + server outside the handler": s.p50_ms - server,
                "redis": redis_ms,
                "model calls": models,
                "handler (parse, join, aggregate)": server - redis_ms - models,
            },
        }
    steps, bp = an.ramp(loc / f"{chain}-load_ramp", int(opts.get("ramp_step_users", 10)),
                        float(opts.get("latency_bound_ms", 1000)))  # fmt: skip
    if steps:
        out |= {"breaking_users": bp.users, "breaking_rps": bp.rps, "breaking_reason": bp.reason}
    held = an.held_requests(loc / f"{chain}-max_performance")
    if held:
        s = an.summarise(held)
        window = (held[0].start, held[-1].start)
        res = an.load_resources(loc / f"{chain}-max_performance", chain, *window)
        gen = an.load_resources(loc / f"{chain}-max_performance", "locust", *window)
        out |= {
            "max_rps": s.rps,
            "max_p99_ms": s.p99_ms,
            "max_failure_pct": s.failure_pct,
            "cpu_ms_per_request": 1000 * res.cpu_s / s.requests if s.requests else None,
            "chain_cores_busy": res.cpu_s / max(window[1] - window[0], 1e-9),
            "loadgen_peak_cpu_pct": gen.peak_cpu_pct,
        }
    rss = [
        an.load_resources(loc / f"{chain}-{sc}", chain).peak_rss_mb
        for sc in ("response_time", "load_ramp", "max_performance")
    ]
    out["peak_rss_mb"] = max((x for x in rss if not math.isnan(x)), default=None)
    cap = capacity.load(folder / "loadgen")
    if cap:
        out |= {"capacity_qps": cap.qps, "capacity_low": cap.low, "capacity_high": cap.high,
                "capacity_text": cap.text(), "capacity_client_saturated": cap.client_saturated,
                "probes": len(cap.probes)}  # fmt: skip
    scoring = manifest.get("settings", {}).get(name, {}).get(f"scoring-{chain}", {})
    model = manifest.get("settings", {}).get(name, {}).get(f"model-{chain}", {})
    out["scoring_workers"] = scoring.get("workers_effective")
    out["max_wait_ms"], out["max_batch_size"] = model.get("max_wait_ms"), model.get("max_batch_size")
    out["model_server"] = model.get("server")
    out["batches"] = an.batch_sizes(folder / "metrics" / f"model-{chain}.prom")
    for key in (
        "rss_per_worker_mb",
        "uss_per_worker_mb",
        "scoring_rss_mb",
        "scoring_processes",
        "model_rss_mb",
        "model_processes",
    ):
        if status.get(key) is not None:
            out[key] = status[key]
    conc = scoring.get("concurrency")
    if conc and out.get("single_p50_ms"):
        bound = conc / (out["single_p50_ms"] / 1000)
        out |= {"littles_concurrency": conc, "littles_bound_rps": bound}
        if out.get("max_rps"):
            out["measured_over_bound"] = out["max_rps"] / bound
    return out


def summarise_compare(run: Path) -> dict[str, Any]:
    m = load_manifest(run)
    opts = m.get("options", {})
    names = opts.get("variants", [])
    rows = [variant_figures(run / "variants" / name, name, m) for name in names]
    caps = [capacity.load(run / "variants" / name / "loadgen") for name in names]
    probes = [p for cap in caps if cap for p in cap.probes]
    before: dict[str, capacity.Capacity] = {}  # the row before, per chain: capacity ratios with intervals
    for row, cap in zip(rows, caps, strict=True):
        prev = before.get(row.get("chain", ""))
        if cap and (r := cap.ratio_to(prev)):
            row["capacity_ratio"] = r
        if cap and cap.qps:
            before[row["chain"]] = cap
    departures = capacity.departures(float(opts.get("capacity_probe_s", 60)), probes) if probes else ""
    _above_floor(rows)
    joined = zip(rows, caps, strict=True)
    by_name: targets.Joined = {row["name"]: (row, cap) for row, cap in joined if "skipped" not in row}
    for row, cap in by_name.values():
        base, base_cap = by_name.get(row["default"], (None, None))  # against its chain's default
        if base is not None and base is not row:
            row["vs_default"] = against(row, cap, base, base_cap)
        base, base_cap = by_name.get(row["baseline"], (None, None)) if row["batching"] else (None, None)
        if base is not None and not base["batching"]:  # against its unbatched twin
            row["vs_unbatched"] = against(row, cap, base, base_cap)
    return {
        "kind": "compare", "variants": rows, "options": opts, "cpu_count": m.get("cpu_count"),
        "capacity_departures": departures, "lean_targets": targets.lean_targets(by_name),
        "expected": targets.expected(m), "sweep": _sweep_points(rows, opts.get("sweep")),
    }  # fmt: skip


def _sweep_points(rows: list[dict], sweep: dict | None) -> list[dict]:
    """The rows of the sweep's points (a run before the sweep had axes swept the scoring workers)."""
    if not sweep:
        return []
    names = sweep.get("points") or [r["name"] for r in rows if r["name"].startswith(f"{sweep['variant']}-w")]
    return [r for r in rows if r["name"] in names]


def sweep_axes(summary: dict[str, Any]) -> list[str]:
    """The axes the run's sweep varied (lab.variants.AXES names)."""
    sweep = summary["options"].get("sweep") or {}
    return list(sweep.get("axes") or {"workers": sweep.get("workers")})


def against(row: dict, cap: capacity.Capacity | None, base: dict, base_cap: capacity.Capacity | None) -> dict:
    """``row`` against ``base`` measured in the same run: capacity ratio with its interval, CPU per request
    ratio, single-request p50 difference."""
    vs: dict[str, Any] = {"name": base["name"]}
    if cap and (r := cap.ratio_to(base_cap)):
        vs["capacity"] = r
    if row.get("cpu_ms_per_request") and base.get("cpu_ms_per_request"):
        vs["cpu_ratio"] = row["cpu_ms_per_request"] / base["cpu_ms_per_request"]
    if row.get("single_p50_ms") is not None and base.get("single_p50_ms") is not None:
        vs["p50_diff_ms"] = row["single_p50_ms"] - base["single_p50_ms"]
    return vs


def _above_floor(rows: list[dict]) -> None:
    """Each variant's single-request p50 and CPU per request above its chain's floor, when the run has one."""
    floors = {r["chain"]: r for r in rows if r.get("floor")}
    for row in rows:
        floor = floors.get(row.get("chain", ""))
        if not floor or row is floor:
            continue
        for key, out in (("single_p50_ms", "p50_above_floor_ms"), ("cpu_ms_per_request", "cpu_above_floor_ms")):
            if row.get(key) is not None and floor.get(key) is not None:
                row[out] = row[key] - floor[key]
