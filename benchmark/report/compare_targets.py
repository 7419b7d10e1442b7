"""The project's targets, checked on a comparison's rows: derived from the run's own settings, never from
a variant's name or a constant computed by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmark.render.tables import Section, ratio_text

if TYPE_CHECKING:
    from benchmark.loadgen import capacity

Joined = dict[str, tuple[dict, "capacity.Capacity | None"]]  # a row and its capacity, by variant name

# The targets were set for the async chain (the leanest one against the floor; its default against the original).
TARGET_CHAIN = "async"
LEAN_P50_GAP_MS = 2.0  # single-request p50 within this of the floor's
LEAN_CPU_RATIO = 2.0  # CPU per request at most this times the floor's
LEAN_CAPACITY_RATIO = 2.0  # capacity at least this times the default async chain's


def expected(manifest: dict) -> dict[str, Any] | None:
    """What the target chain's default should take for one request, from its settings: its scoring handler's
    model calls, each a uniform draw from the model's latency range; concurrent calls take the largest of
    the draws (expected: low + (high - low) n / (n + 1)), sequential ones their sum."""
    opts = manifest.get("options", {})
    name = next((n for n, d in opts.get("described", {}).items()
                 if d.get("chain") == TARGET_CHAIN and d.get("role") == "default"), TARGET_CHAIN)  # fmt: skip
    settings = manifest.get("settings", {}).get(name, {})
    model, scoring = settings.get(f"model-{TARGET_CHAIN}"), settings.get(f"scoring-{TARGET_CHAIN}")
    if not model or not scoring or model.get("kind", "io") not in ("io", "cpu"):
        return None
    low, high, n = model["latency_min_ms"], model["latency_max_ms"], scoring.get("n_models", 2)
    concurrent = scoring.get("fanout") == "concurrent"
    models_ms = low + (high - low) * n / (n + 1) if concurrent else n * (low + high) / 2
    return {"variant": name, "models_ms": models_ms, "calls": n, "concurrent": concurrent}


def lean_targets(by_name: Joined) -> dict[str, Any] | None:
    """The targets for the leanest async chain: the variant of the target chain (not the floor, the simulated
    waiting model) with the least CPU per request in this run, against its floor and its default."""
    floor = next((row for row, _ in by_name.values() if row["chain"] == TARGET_CHAIN and row["floor"]), None)
    candidates = [
        (row, cap) for row, cap in by_name.values()
        if row["chain"] == TARGET_CHAIN and not row["floor"] and row.get("cpu_ms_per_request")
        and row["model_kind"] == "io"
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
    default, default_cap = by_name.get(lean["default"], (None, None))
    if default and lean_cap and (r := lean_cap.ratio_to(default_cap)):
        ratio, low, high = r["ratio"], r["low"], r["high"]
        if low is None:
            met = "yes" if ratio >= LEAN_CAPACITY_RATIO else "no"
        else:  # with confidence either way, else unsure
            met = "yes" if low >= LEAN_CAPACITY_RATIO else "no" if high < LEAN_CAPACITY_RATIO else "unsure"
        out["capacity"] = {"lean_qps": lean_cap.qps, "default_qps": default_cap.qps, "ratio": ratio, "low": low,
                           "high": high, "met": met}  # fmt: skip
    return out


def met_text(met: bool | str) -> str:
    return {True: "met", "yes": "met", False: "NOT MET", "no": "NOT MET"}.get(met, "unsure")


def lean_checks(t: dict[str, Any]) -> list[tuple[str, str, str, bool | str]]:
    """The leanest async chain's targets, each as (short label, target, measured, met): the verdict and the
    targets table say them alike."""
    checks = []
    if p := t.get("p50"):
        measured = f"{p['lean_ms']:.1f} vs {p['floor_ms']:.1f} ms ({p['gap_ms']:+.1f})"
        checks.append(("p50", f"single p50 within {LEAN_P50_GAP_MS:g} ms of the floor's", measured, p["met"]))
    if c := t.get("cpu"):
        measured = f"{c['lean_ms']:.2f} vs {c['floor_ms']:.2f} ms (x{c['ratio']:.2f})"
        checks.append(("CPU", f"CPU per request at most {LEAN_CPU_RATIO:g}x the floor's", measured, c["met"]))
    if c := t.get("capacity"):
        measured = f"{c['lean_qps']:.0f} vs {c['default_qps']:.0f} QPS: {ratio_text(c)}"
        target = f"capacity at least {LEAN_CAPACITY_RATIO:g}x the default async chain's"
        checks.append(("capacity", target, measured, c["met"]))
    return checks


def targets(summary: dict[str, Any]) -> Section | None:
    """The project's targets, checked against this run's figures (side by side, same run)."""
    measured = [f for f in summary["variants"] if "skipped" not in f]
    rows = []
    default = next((f for f in measured if f["chain"] == TARGET_CHAIN and f["role"] == "default"), None)
    seed = next((f for f in measured if f["chain"] == TARGET_CHAIN and f["role"] == "original"), None)
    if default and seed and seed.get("capacity_qps"):
        ratio = (default.get("capacity_qps") or 0) / seed["capacity_qps"]
        rows.append(["async capacity >= 5x the seed-faithful async's", f"x{ratio:.1f}", "yes" if ratio >= 5 else "no"])
    if default and seed and seed.get("cpu_ms_per_request") and default.get("cpu_ms_per_request"):
        ratio = default["cpu_ms_per_request"] / seed["cpu_ms_per_request"]
        rows.append(
            ["async CPU per request <= 1/8 of the seed's", f"1/{1 / ratio:.1f}", "yes" if ratio <= 1 / 8 else "no"]
        )
    expected_ms = (summary.get("expected") or {}).get("models_ms")
    if default and default.get("single_p50_ms") and expected_ms:
        gap = default["single_p50_ms"] - expected_ms
        label = f"async single-user p50 within 5 ms of its models' expected {expected_ms:.2f} ms"
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
            for _, target, measured, met in lean_checks(t)]  # fmt: skip
