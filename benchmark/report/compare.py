"""The comparison report (``lab compare``): one row per variant, the decomposition, Little's law."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmark.loadgen import capacity
from benchmark.report import analysis as an
from benchmark.report.tables import Section, num, ratio_text
from benchmark.rundir import load_manifest


def variant_figures(folder: Path, name: str, manifest: dict) -> dict[str, Any]:
    """Every figure of one variant, from its folder's raw files and what the manifest recorded of it."""
    opts = manifest.get("options", {})
    status = json.loads((folder / "status.json").read_text()) if (folder / "status.json").exists() else {}
    if "skipped" in status:
        return {"name": name, "skipped": status["skipped"]}
    described = opts.get("described", {}).get(name, {})
    chain = described.get("chain") or ("sync" if name.startswith("sync") else "async")
    loc = folder / "locust"
    out: dict[str, Any] = {"name": name, "chain": chain, "change": described.get("change", ""),
                           "baseline": described.get("baseline") or ""}  # fmt: skip
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
    out["floor"] = scoring.get("app") == "bare"
    out["scoring_workers"] = scoring.get("workers_effective")
    out["model_kind"] = model.get("kind", "io")
    out["max_wait_ms"], out["max_batch_size"] = model.get("max_wait_ms"), model.get("max_batch_size")
    out["batches"] = an.batch_sizes(folder / "metrics" / f"model-{chain}.prom")
    for key in ("rss_per_worker_mb", "uss_per_worker_mb", "scoring_rss_mb", "scoring_processes"):
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
    by_name = {row["name"]: (row, cap) for row, cap in zip(rows, caps, strict=True) if "skipped" not in row}
    _against_default(by_name)
    _against_unbatched(by_name, opts.get("sweep"))
    return {
        "kind": "compare", "variants": rows, "options": opts, "cpu_count": m.get("cpu_count"),
        "capacity_departures": departures, "lean_targets": lean_targets(by_name),
        "sweep": _sweep_points(rows, opts.get("sweep")),
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


def batching(row: dict) -> bool:
    """Whether the variant's model tier batches: dynamic batching, or the job queue's workers."""
    return row.get("max_wait_ms") is not None or "queue" in row["name"].split("-")


def unbatched_twin(row: dict) -> str:
    """The variant a batching one is measured against: the baseline its row names (sync-batch: sync-gthread,
    the same scoring handler), else its name without ``batch`` and ``queue`` (async-batch-cpu against
    async-cpu, sync-queue against sync)."""
    return row.get("baseline") or "-".join(p for p in row["name"].split("-") if p not in ("batch", "queue"))


def _against(row: dict, cap: capacity.Capacity | None, base: dict, base_cap: capacity.Capacity | None) -> dict:
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


def _against_default(by_name: dict[str, tuple[dict, capacity.Capacity | None]]) -> None:
    """Each variant against its chain's default chain (the variant named after the chain), when in the run."""
    for row, cap in by_name.values():
        default, default_cap = by_name.get(row["chain"], (None, None))
        if default is not None and default is not row:
            row["vs_default"] = _against(row, cap, default, default_cap)


def _against_unbatched(by_name: dict[str, tuple[dict, capacity.Capacity | None]], sweep: dict | None) -> None:
    """Each batching variant against its unbatched twin (same chain, same model kind), when in the run;
    a sweep's points against the twin of the variant swept."""
    points = set((sweep or {}).get("points") or [])
    for row, cap in by_name.values():
        if not batching(row):
            continue
        name = sweep["variant"] if row["name"] in points else row["name"]  # a point has its variant's baseline
        twin = unbatched_twin({"name": name, "baseline": row.get("baseline")})
        base, base_cap = by_name.get(twin, (None, None))
        if base is not None and not batching(base):
            row["vs_unbatched"] = _against(row, cap, base, base_cap)


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


LEAN_P50_GAP_MS = 2.0  # single-request p50 within this of the floor's
LEAN_CPU_RATIO = 2.0  # CPU per request at most this times the floor's
LEAN_CAPACITY_RATIO = 2.0  # capacity at least this times the default async chain's


def lean_targets(by_name: dict[str, tuple[dict, capacity.Capacity | None]]) -> dict[str, Any] | None:
    """The targets for the leanest async chain: the async variant (not the floor, not a CPU-bound model)
    with the least CPU per request in this run, against the async floor and the default async chain."""
    floor = next((row for row, _ in by_name.values() if row["chain"] == "async" and row.get("floor")), None)
    candidates = [
        (row, cap) for row, cap in by_name.values()
        if row["chain"] == "async" and not row.get("floor") and row.get("cpu_ms_per_request")
        and "cpu" not in row["name"].split("-")
    ]  # fmt: skip
    if not floor or not candidates:
        return None
    lean, lean_cap = min(candidates, key=lambda rc: rc[0]["cpu_ms_per_request"])
    out: dict[str, Any] = {"lean": lean["name"], "floor": floor["name"]}
    if lean.get("single_p50_ms") and floor.get("single_p50_ms"):
        gap = lean["single_p50_ms"] - floor["single_p50_ms"]
        out["p50"] = {"lean_ms": lean["single_p50_ms"], "floor_ms": floor["single_p50_ms"], "gap_ms": gap,
                      "met": gap <= LEAN_P50_GAP_MS}  # fmt: skip
    if floor.get("cpu_ms_per_request"):
        ratio = lean["cpu_ms_per_request"] / floor["cpu_ms_per_request"]
        out["cpu"] = {"lean_ms": lean["cpu_ms_per_request"], "floor_ms": floor["cpu_ms_per_request"],
                      "ratio": ratio, "met": ratio <= LEAN_CPU_RATIO}  # fmt: skip
    default, default_cap = by_name.get("async", (None, None))
    if default and lean_cap and (r := lean_cap.ratio_to(default_cap)):
        ratio, low, high = r["ratio"], r["low"], r["high"]
        if low is None:
            met = "yes" if ratio >= LEAN_CAPACITY_RATIO else "no"
        else:  # with confidence either way, else unsure
            met = "yes" if low >= LEAN_CAPACITY_RATIO else "no" if high < LEAN_CAPACITY_RATIO else "unsure"
        out["capacity"] = {"lean_qps": lean_cap.qps, "default_qps": default_cap.qps, "ratio": ratio, "low": low,
                           "high": high, "met": met}  # fmt: skip
    return out


def _ratio(cur: float | None, prev: float | None) -> str:
    if not cur or not prev or math.isnan(cur) or math.isnan(prev):
        return ""
    return f" (x{cur / prev:.2f})"


COLUMNS = [
    ("single p50 ms", "single_p50_ms", ".1f"),
    ("single p99 ms", "single_p99_ms", ".1f"),
    ("breaking point users", "breaking_users", "d"),
    ("breaking point req/s", "breaking_rps", ".0f"),
    ("max sustained req/s", "max_rps", ".0f"),
    ("capacity QPS at p99 bound (95%)", "capacity_qps", ".0f"),
    ("CPU ms / request", "cpu_ms_per_request", ".2f"),
    ("peak RSS MiB", "peak_rss_mb", ".0f"),
    ("RSS / scoring worker MiB", "rss_per_worker_mb", ".0f"),
]
FLOOR_COLUMNS = [
    ("p50 above floor ms", "p50_above_floor_ms", ".1f"),
    ("CPU ms above floor", "cpu_above_floor_ms", ".2f"),
]


def sections(summary: dict[str, Any]) -> list[Section]:
    opts = summary["options"]
    has_floor = any(f.get("floor") for f in summary["variants"])
    columns = COLUMNS + (FLOOR_COLUMNS if has_floor else [])
    bound = float(opts.get("capacity_bound_ms", 250))
    rows, prev_by_chain, notes = [], {}, []
    for fig in summary["variants"]:
        if "skipped" in fig:
            rows.append([fig["name"], "", fig["skipped"], *[""] * len(columns)])
            continue
        prev = prev_by_chain.get(fig["chain"])
        cells = []
        for _, key, fmt in columns:
            value = fig.get(key)
            text = num(value, fmt) if not (fmt == "d" and value is None) else "-"
            if key == "capacity_qps":  # with its interval, and a ratio only where the intervals say one
                ratio = f" (x {ratio_text(fig['capacity_ratio'], '')})" if fig.get("capacity_ratio") else ""
                cells.append((fig.get("capacity_text") or text) + ratio)
                continue
            floor_col = key.endswith("above_floor_ms")
            cells.append(text + (_ratio(value, prev.get(key)) if prev and fmt != "d" and not floor_col else ""))
        rows.append([fig["name"], fig["chain"], fig.get("change", ""), *cells])
        prev_by_chain[fig["chain"]] = fig
        if fig.get("capacity_client_saturated"):
            notes.append(
                f"{fig['name']}: the LoadGen client passed 90% of a core in a probe: it may have measured the client."
            )
        if (fig.get("loadgen_peak_cpu_pct") or 0) > 90:
            notes.append(f"{fig['name']}: Locust passed 90% of a core during max performance.")
        if fig.get("max_failure_pct"):
            notes.append(f"{fig['name']}: {fig['max_failure_pct']:.2f}% failed requests during max performance.")
    decomposition = Section(
        "Variants, side by side",
        "(xN) is a row's ratio to the row before it of the same chain: in the decomposition preset each row changes "
        "one factor from that row (against each chain's default: the next table). "
        f"Capacity: the offered load (LoadGen, Poisson arrivals, open loop) at which p99 meets {bound:.0f} ms, with "
        "its 95% interval; its ratio to the row before has its own interval, and reads 'no measurable difference' "
        "when that interval holds 1. CPU per request counts every process of the chain (Redis included), from /proc. "
        "RSS per scoring worker: the scoring handler's worker processes after the load, on average."
        + (
            " Above floor: the variant's figure minus its chain's floor (a bare app, no framework)."
            if has_floor
            else ""
        ),
        ["variant", "chain", "change", *(c[0] for c in columns)],
        rows,
        notes,
    )
    little = [
        [f["name"], str(f["littles_concurrency"]), num(f.get("single_p50_ms")), num(f["littles_bound_rps"], ".0f"),
         num(f.get("max_rps"), ".0f"), num(f.get("measured_over_bound"), ".0%"),
         num(f.get("chain_cores_busy"), ".2f")]
        for f in summary["variants"] if f.get("littles_bound_rps")
    ]  # fmt: skip
    littles = Section(
        "Little's law for the sync variants",
        "A sync server holds (workers x threads) requests at once; divided by the single-request latency this bounds "
        "its throughput. Below the bound with spare CPU means something else limits it; at the bound it is the "
        "server's concurrency that limits it. Cores busy: CPU of the chain's processes during max performance.",
        ["variant", "concurrent requests", "single p50 ms", "bound req/s", "measured req/s", "measured / bound",
         "cores busy"],
        little,
    )  # fmt: skip
    split_rows = [
        [f["name"], *(num(ms) for ms in f["split_ms"].values())] for f in summary["variants"] if f.get("split_ms")
    ]
    first_split = next((f["split_ms"] for f in summary["variants"] if f.get("split_ms")), {})
    split = Section(
        "Where a single request's time goes (from the Server-Timing header, medians, ms)",
        "The scoring handler reports the time it spent reading Redis, calling the models and in total; the rest of "
        "the client's latency was spent outside the handler (network, server, framework).",
        ["variant", *first_split.keys()],
        split_rows,
    )
    targets = _targets(summary)
    method = Section("Capacity method", summary.get("capacity_departures", ""))
    parts = (verdict(summary), decomposition, _against_defaults(summary), _batching(summary), _sweep(summary),
             _batch_sizes(summary), littles, split, targets, method)  # fmt: skip
    return [s for s in parts if s is not None]


def _best(rows: list[dict], chain: str) -> dict | None:
    """The variant of ``chain`` with the highest capacity, the floor and the default left out."""
    found = [r for r in rows if r.get("chain") == chain and not r.get("floor") and r["name"] != chain
             and r.get("capacity_qps") and r.get("model_kind", "io") == "io"]  # fmt: skip
    return max(found, key=lambda r: r["capacity_qps"], default=None)


def verdict(summary: dict[str, Any]) -> Section | None:
    """The answer first: per chain, the default, the best variant against it, the floor; the targets; the sweep."""
    rows = [r for r in summary["variants"] if "skipped" not in r]
    bound = float(summary["options"].get("capacity_bound_ms", 250))
    lines = [f"capacity at p99 <= {bound:.0f} ms (LoadGen, open loop; 95% intervals):"]
    for chain in ("async", "sync"):
        default = next((r for r in rows if r["name"] == chain), None)
        floor = next((r for r in rows if r.get("chain") == chain and r.get("floor")), None)
        best = _best(rows, chain)
        parts = []
        if default and default.get("capacity_text"):
            parts.append(f"default {default['capacity_text']}")
        if best and best.get("vs_default", {}).get("capacity"):
            parts.append(f"best: {best['name']} {best['capacity_text']}, "
                         f"{ratio_text(best['vs_default']['capacity'])} against the default")  # fmt: skip
        if floor and floor.get("capacity_text"):
            parts.append(f"floor (no framework) {floor['capacity_text']}")
        if parts:
            lines.append(f"  {chain:<6} " + "; ".join(parts))
    t = summary.get("lean_targets")
    if t:
        lines.append(f"targets for the leanest async chain ({t['lean']}; floor: {t['floor']}):")
        for label, target, measured, met in _lean_checks(t):
            lines.append(f"  {label:<9}{measured} (target: {target}): {_met(met)}")
    lines += _batching_verdict(summary)
    sweep = [r for r in summary.get("sweep") or [] if r.get("capacity_qps")]
    if sweep:
        name, axes = summary["options"]["sweep"]["variant"], sweep_axes(summary)
        best = max(sweep, key=lambda r: r["capacity_qps"])
        at = ", ".join(f"{AXIS_COLUMNS[a][0]} {AXIS_COLUMNS[a][1](best)}" for a in axes)
        kind = "worker sweep" if axes == ["workers"] else "batching frontier"
        lines.append(f"{kind} of {name}: highest capacity at {at}, {best['capacity_text']}")
    if len(lines) == 1:
        return None
    image = "capacity.png" if any(r.get("capacity_qps") for r in rows) else None
    return Section("Verdict", "\n".join(lines), verdict=True, image=image)


def _batching_verdict(summary: dict[str, Any]) -> list[str]:
    """Per batching variant (not a sweep's point): its capacity against its unbatched twin's, and what a lone
    request pays for it."""
    points = {r["name"] for r in summary.get("sweep") or []}
    rows = [r for r in summary["variants"] if r.get("vs_unbatched") and r["name"] not in points]
    lines = ["batching against the same chain unbatched (capacity; single-request p50; mean batch):"] if rows else []
    for r in rows:
        vs = r["vs_unbatched"]
        lines.append(f"  {r['name']:<18} {r.get('capacity_text') or '-'}: {ratio_text(vs.get('capacity'))} "
                     f"{vs['name']}'s; p50 {num(vs.get('p50_diff_ms'), '+.1f')} ms; "
                     f"mean batch {num((r.get('batches') or {}).get('mean'), '.1f')}")  # fmt: skip
    return lines


def _met(met: bool | str) -> str:
    return {True: "met", "yes": "met", False: "NOT MET", "no": "NOT MET"}.get(met, "unsure")


def _lean_checks(t: dict[str, Any]) -> list[tuple[str, str, str, bool | str]]:
    """The leanest async chain's targets, each as (short label, target, measured, met): the verdict and the
    targets table say them alike."""
    checks = []
    if "p50" in t:
        p = t["p50"]
        checks.append(
            (
                "p50",
                f"single p50 within {LEAN_P50_GAP_MS:g} ms of the floor's",
                f"{p['lean_ms']:.1f} vs {p['floor_ms']:.1f} ms ({p['gap_ms']:+.1f})",
                p["met"],
            )
        )
    if "cpu" in t:
        c = t["cpu"]
        checks.append(
            (
                "CPU",
                f"CPU per request at most {LEAN_CPU_RATIO:g}x the floor's",
                f"{c['lean_ms']:.2f} vs {c['floor_ms']:.2f} ms (x{c['ratio']:.2f})",
                c["met"],
            )
        )
    if "capacity" in t:
        c = t["capacity"]
        checks.append(
            (
                "capacity",
                f"capacity at least {LEAN_CAPACITY_RATIO:g}x the default async chain's",
                f"{c['lean_qps']:.0f} vs {c['default_qps']:.0f} QPS: {ratio_text(c)}",
                c["met"],
            )
        )
    return checks


def _against_defaults(summary: dict[str, Any]) -> Section | None:
    rows = [r for r in summary["variants"] if r.get("vs_default")]
    if not rows:
        return None
    return Section(
        "Against each chain's default",
        "Each variant against its chain's default (async: uvicorn, FastAPI, httpx; sync: gunicorn sync workers, "
        "Flask), measured in the same run; a capacity ratio whose 95% interval holds 1 reads 'no measurable "
        "difference'.",
        ["variant", "capacity QPS (95%)", "capacity vs default (95%)", "single p50 ms", "p50 vs default ms",
         "CPU ms / request", "CPU vs default"],
        [[r["name"], r.get("capacity_text") or "-", ratio_text(r["vs_default"].get("capacity")),
          num(r.get("single_p50_ms")), num(r["vs_default"].get("p50_diff_ms"), "+.1f"),
          num(r.get("cpu_ms_per_request"), ".2f"), num(r["vs_default"].get("cpu_ratio"), ".2f") + "x"]
         for r in rows],
    )  # fmt: skip


AXIS_COLUMNS = {  # a sweep axis (lab.variants.AXES): its column, and the row's figure for it
    "workers": ("workers", lambda r: num(r.get("scoring_workers"), "d")),
    "max_wait_ms": ("max wait ms", lambda r: num(r.get("max_wait_ms"), "g")),
    "max_batch_size": ("batch cap", lambda r: num(r.get("max_batch_size"), "d")),
}


def _sweep(summary: dict[str, Any]) -> Section | None:
    rows = summary.get("sweep") or []
    if not rows:
        return None
    name, axes = summary["options"]["sweep"]["variant"], sweep_axes(summary)
    header = [AXIS_COLUMNS[a][0] for a in axes] + ["capacity QPS (95%)", "single p50 ms", "CPU ms / request"]
    cells = [[AXIS_COLUMNS[a][1](r) for a in axes] + [r.get("capacity_text") or "-", num(r.get("single_p50_ms")),
              num(r.get("cpu_ms_per_request"), ".2f")] for r in rows]  # fmt: skip
    if axes == ["workers"]:
        header += ["RSS / worker MiB", "USS / worker MiB", "total RSS MiB"]
        for row, r in zip(cells, rows, strict=True):
            row += [num(r.get("rss_per_worker_mb"), ".0f"), num(r.get("uss_per_worker_mb"), ".0f"),
                    num(r.get("scoring_rss_mb"), ".0f")]  # fmt: skip
        return Section(
            f"Worker sweep: {name}",
            "The same variant with its scoring handler on each number of worker processes (the model API unchanged), "
            "measured in the same run. RSS per worker: the scoring handler's worker processes after the load, on "
            "average; USS: what a worker holds alone (shared pages left out), the memory one more worker costs; total "
            "RSS: all of the handler's processes, the server's master included (shared pages counted in each).",
            header, cells, image="sweep.png",
        )  # fmt: skip
    header += ["capacity vs unbatched (95%)", "p50 vs unbatched ms", "mean batch"]
    for row, r in zip(cells, rows, strict=True):
        vs = r.get("vs_unbatched") or {}
        row += [ratio_text(vs.get("capacity")), num(vs.get("p50_diff_ms"), "+.1f"),
                num((r.get("batches") or {}).get("mean"), ".1f")]  # fmt: skip
    twin = next((r["vs_unbatched"]["name"] for r in rows if r.get("vs_unbatched")), None)
    return Section(
        f"Batching frontier: {name}",
        "The same variant at each dynamic-batching setting (how long the first request of a batch waits for "
        "company, and the most a batch holds), measured in the same run: the throughput each setting buys (capacity "
        "at the p99 bound) against the latency it costs a lone request (single p50)"
        + (f", both against the unbatched {twin}" if twin else "") + ". Mean batch: items per model call over "
        "the whole run (the model API's model_batch_size histogram).",
        header, cells, image="frontier.png",
    )  # fmt: skip


def _batching(summary: dict[str, Any]) -> Section | None:
    """Batching variants (not a sweep's points) against their unbatched twins."""
    points = {r["name"] for r in summary.get("sweep") or []}
    rows = [r for r in summary["variants"] if r.get("vs_unbatched") and r["name"] not in points]
    if not rows:
        return None
    return Section(
        "Batching against the unbatched twin",
        "Each batching variant (dynamic batching in the model API, or the Redis job queue) against the same chain "
        "and model kind answering one request per model call, measured in the same run; a capacity ratio whose 95% "
        "interval holds 1 reads 'no measurable difference'.",
        ["variant", "model", "against", "capacity QPS (95%)", "capacity vs unbatched (95%)", "single p50 ms",
         "p50 vs unbatched ms", "CPU ms / request", "CPU vs unbatched", "mean batch"],
        [[r["name"], r.get("model_kind", "io"), r["vs_unbatched"]["name"], r.get("capacity_text") or "-",
          ratio_text(r["vs_unbatched"].get("capacity")), num(r.get("single_p50_ms")),
          num(r["vs_unbatched"].get("p50_diff_ms"), "+.1f"), num(r.get("cpu_ms_per_request"), ".2f"),
          num(r["vs_unbatched"].get("cpu_ratio"), ".2f") + "x", num((r.get("batches") or {}).get("mean"), ".1f")]
         for r in rows],
    )  # fmt: skip


def _batch_sizes(summary: dict[str, Any]) -> Section | None:
    """The distribution of the batches each batching variant's model API formed."""
    rows = [r for r in summary["variants"] if batching(r) and r.get("batches")]
    if not rows:
        return None
    bands = list(rows[0]["batches"]["shares"])
    return Section(
        "Batch sizes formed",
        "Items per model call, from each batching variant's model API (the model_batch_size histogram of its "
        "/metrics, scraped after the run: verification, Locust and the capacity probes together): the share of "
        "model calls in each band of batch sizes.",
        ["variant", "model calls", "items", "mean batch", *[f"{b} items" for b in bands]],
        [[r["name"], str(r["batches"]["calls"]), str(r["batches"]["items"]), num(r["batches"]["mean"], ".1f"),
          *[f"{100 * r['batches']['shares'][b]:.0f}%" for b in bands]] for r in rows],
    )  # fmt: skip


EXPECTED_ASYNC_P50_MS = 46.67  # expected maximum of two uniform 40-50 ms draws: 40 + 10 * 2/3


def _targets(summary: dict[str, Any]) -> Section | None:
    """The project's targets, checked against this run's figures (side by side, same run)."""
    by = {f["name"]: f for f in summary["variants"] if "skipped" not in f}
    rows = []
    default, seed = by.get("async"), by.get("async-seed")
    if default and seed and seed.get("capacity_qps"):
        ratio = (default.get("capacity_qps") or 0) / seed["capacity_qps"]
        rows.append(["async capacity >= 5x the seed-faithful async's", f"x{ratio:.1f}", "yes" if ratio >= 5 else "no"])
    if default and seed and seed.get("cpu_ms_per_request") and default.get("cpu_ms_per_request"):
        ratio = default["cpu_ms_per_request"] / seed["cpu_ms_per_request"]
        rows.append(
            ["async CPU per request <= 1/8 of the seed's", f"1/{1 / ratio:.1f}", "yes" if ratio <= 1 / 8 else "no"]
        )
    if default and default.get("single_p50_ms"):
        gap = default["single_p50_ms"] - EXPECTED_ASYNC_P50_MS
        label = f"async single-user p50 within 5 ms of {EXPECTED_ASYNC_P50_MS} ms"
        rows.append([label, f"{default['single_p50_ms']:.1f} ms", "yes" if abs(gap) <= 5 else "no"])
    cores = summary.get("cpu_count") or 0
    for f in summary["variants"]:
        ratio = f.get("measured_over_bound")
        if ratio is None:
            continue
        busy = f.get("chain_cores_busy") or 0
        why = ""
        if ratio < 0.85:
            why = (
                f"; CPU saturated ({busy:.2f} cores busy)"
                if cores and busy > 0.8 * cores
                else f"; {busy:.2f} cores busy"
            )
        rows.append([f"{f['name']}: sustained within 15% of its Little's-law bound", f"{ratio:.0%}{why}",
                     "yes" if ratio >= 0.85 else "no"])  # fmt: skip
    rows += _lean_rows(summary.get("lean_targets"))
    if not rows:
        return None
    return Section("Targets, checked on this run", "", ["target", "measured", "met"], rows)


def _lean_rows(t: dict[str, Any] | None) -> list[list[str]]:
    """The leanest async chain against the floor and the default async chain."""
    if not t:
        return []
    said = {True: "yes", False: "no"}
    return [[f"leanest async ({t['lean']}): {target}", measured, said.get(met, met)]
            for _, target, measured, met in _lean_checks(t)]  # fmt: skip
