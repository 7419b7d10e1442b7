"""The comparison report (``lab compare``): its sections, from the rows ``compare_rows`` reads and joins and the
targets ``compare_targets`` checks: the verdict, one row per variant, against each chain's default, batching
against the unbatched twin, a sweep, Little's law."""

from __future__ import annotations

import math
from typing import Any

from benchmark.loadgen import stats
from benchmark.render.tables import DECISION_RULE, Section, num, ratio_text, verdict_of
from benchmark.report import compare_targets as targets
from benchmark.report.compare_rows import sweep_axes
from lab.variants import AXES

__all__ = ["sections"]


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
        f"its 95% interval; its ratio to the row before has its own interval, and {DECISION_RULE}. "
        "CPU per request counts every process of the chain (Redis included), from /proc. "
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
    method = Section("Capacity method", summary.get("capacity_departures", ""))
    parts = (verdict(summary), decomposition, _against_defaults(summary), _batching(summary), _sweep(summary),
             _batch_sizes(summary), littles, split, targets.targets(summary), method)  # fmt: skip
    return [s for s in parts if s is not None]


def _best(rows: list[dict], chain: str) -> dict | None:
    """The variant of ``chain`` with the highest capacity, the floor and the default left out."""
    found = [r for r in rows if r.get("chain") == chain and not r.get("floor") and r["role"] != "default"
             and r.get("capacity_qps") and r.get("model_kind", "io") == "io"]  # fmt: skip
    return max(found, key=lambda r: r["capacity_qps"], default=None)


def verdict(summary: dict[str, Any]) -> Section | None:
    """The answer first: per chain, the default, the best variant against it, the floor; the targets; the sweep."""
    rows = [r for r in summary["variants"] if "skipped" not in r]
    bound = float(summary["options"].get("capacity_bound_ms", 250))
    lines = [f"capacity at p99 <= {bound:.0f} ms (LoadGen, open loop; 95% intervals):"]
    for chain in dict.fromkeys(r["chain"] for r in rows):  # in the run's order
        default = next((r for r in rows if r["chain"] == chain and r["role"] == "default"), None)
        floor = next((r for r in rows if r.get("chain") == chain and r.get("floor")), None)
        best = _best(rows, chain)
        parts = []
        if default and default.get("capacity_text"):
            parts.append(f"default {default['capacity_text']}")
        if best and best.get("vs_default", {}).get("capacity"):
            parts.append(f"highest: {best['name']} {best['capacity_text']}, "
                         f"{ratio_text(best['vs_default']['capacity'])} against the default")  # fmt: skip
        if floor and floor.get("capacity_text"):
            parts.append(f"floor (no framework) {floor['capacity_text']}")
        if parts:
            lines.append(f"  {chain:<6} " + "; ".join(parts))
    calls = {r["name"]: r["vs_default"]["capacity"] for r in rows if r.get("vs_default", {}).get("capacity")}
    if calls:
        said = {v: [n for n, c in calls.items() if verdict_of(c) == v] for v in stats.VERDICTS}
        rounds = max((c.get("rounds") or 0 for c in calls.values()), default=0)
        lines.append("against each chain's default" + (f" (paired over {rounds} rounds)" if rounds else "") + ": "
                     + "; ".join(f"{v} {len(said[v])}" + (f" ({', '.join(said[v])})" if said[v] else "")
                                 for v in stats.VERDICTS))  # fmt: skip
    t = summary.get("lean_targets")
    if t:
        lines.append(f"targets for the leanest async chain ({t['lean']}; floor: {t['floor']}):")
        for label, target, measured, met in targets.lean_checks(t):
            lines.append(f"  {label:<9}{measured} (target: {target}): {targets.met_text(met)}")
    lines += _batching_verdict(summary)
    sweep = [r for r in summary.get("sweep") or [] if r.get("capacity_qps")]
    if sweep:
        name, axes = summary["options"]["sweep"]["variant"], sweep_axes(summary)
        best = max(sweep, key=lambda r: r["capacity_qps"])
        at = ", ".join(f"{AXES[a].label} {_axis(a, best)}" for a in axes)
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


def _against_defaults(summary: dict[str, Any]) -> Section | None:
    rows = [r for r in summary["variants"] if r.get("vs_default")]
    if not rows:
        return None
    return Section(
        "Against each chain's default",
        "Each variant against its chain's default (async: uvicorn, FastAPI, aiohttp's client; sync: gunicorn sync "
        f"workers, Flask), measured in the same run; {DECISION_RULE}.",
        ["variant", "capacity QPS (95%)", "capacity vs default (95%)", "single p50 ms", "p50 vs default ms",
         "CPU ms / request", "CPU vs default"],
        [[r["name"], r.get("capacity_text") or "-", ratio_text(r["vs_default"].get("capacity")),
          num(r.get("single_p50_ms")), num(r["vs_default"].get("p50_diff_ms"), "+.1f"),
          num(r.get("cpu_ms_per_request"), ".2f"), num(r["vs_default"].get("cpu_ratio"), ".2f") + "x"]
         for r in rows],
    )  # fmt: skip


def _axis(axis: str, row: dict) -> str:
    """A sweep's point on ``axis`` (lab.variants.AXES): as the variant declared it, else (a run before the
    manifest recorded it) the setting the axis varies, as the server made it."""
    value = (row.get("point") or {}).get(axis)
    return num(row.get("scoring_workers" if axis == "workers" else axis) if value is None else value, "g")


def _sweep(summary: dict[str, Any]) -> Section | None:
    rows = summary.get("sweep") or []
    if not rows:
        return None
    name, axes = summary["options"]["sweep"]["variant"], sweep_axes(summary)
    header = [AXES[a].label for a in axes] + ["capacity QPS (95%)", "single p50 ms", "CPU ms / request"]
    cells = [[_axis(a, r) for a in axes] + [r.get("capacity_text") or "-", num(r.get("single_p50_ms")),
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
        f"and model kind answering one request per model call, measured in the same run; {DECISION_RULE}.",
        ["variant", "model", "model tier", "against", "capacity QPS (95%)", "capacity vs unbatched (95%)",
         "single p50 ms", "p50 vs unbatched ms", "CPU ms / request", "CPU vs unbatched", "mean batch",
         "model tier RSS MiB"],
        [[r["name"], r.get("model_kind", "io"), r.get("model_server") or "-", r["vs_unbatched"]["name"],
          r.get("capacity_text") or "-", ratio_text(r["vs_unbatched"].get("capacity")), num(r.get("single_p50_ms")),
          num(r["vs_unbatched"].get("p50_diff_ms"), "+.1f"), num(r.get("cpu_ms_per_request"), ".2f"),
          num(r["vs_unbatched"].get("cpu_ratio"), ".2f") + "x", num((r.get("batches") or {}).get("mean"), ".1f"),
          num(r.get("model_rss_mb"), ".0f")]
         for r in rows],
    )  # fmt: skip


def _batch_sizes(summary: dict[str, Any]) -> Section | None:
    """The distribution of the batches each batching variant's model API formed."""
    rows = [r for r in summary["variants"] if r.get("batching") and r.get("batches")]
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
