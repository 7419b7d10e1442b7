"""Every figure of the report, computed from a run folder's raw files (and nothing else)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from api_common.contract import CHAINS
from benchmark import analysis as an
from benchmark.experiments import all_experiments
from benchmark.experiments.capacity import transfer
from benchmark.loadgen import capacity, history, stats
from benchmark.locust.scenarios import HOLDS, STEP_DOWN, over_bound
from benchmark.rundir import load_manifest

SCENARIOS = ("response_time", "load_ramp", "max_performance", "stress")


def summarise_run(run: Path) -> dict[str, Any]:
    """Every figure of the report, computed from the folder's raw files."""
    m = load_manifest(run)
    opts = m.get("options", {})
    bound = float(opts.get("latency_bound_ms", 1000))
    step_users = int(opts.get("ramp_step_users", 10))
    loc = run / "locust"
    out: dict[str, Any] = {"chains": {}, "steps": {}, "scenarios": {}, "options": opts}
    probes: list[capacity.Probe] = []  # LoadGen's, both chains
    caps: dict[str, capacity.Capacity] = {}
    for chain in CHAINS:
        c: dict[str, Any] = {}
        scen: dict[str, Any] = {}
        rss, notes = [], []
        for name in SCENARIOS:
            prefix = loc / f"{chain}-{name}"
            reqs = an.held_requests(prefix) if name == "max_performance" else an.load_requests(prefix)
            if not reqs:
                continue
            s = an.summarise(reqs)
            window = (reqs[0].start, reqs[-1].start)
            loadgen = an.load_resources(prefix, "locust", *window)
            res = an.load_resources(prefix, chain, *window)
            warnings = an.cpu_warnings(prefix)
            rss.append(res.peak_rss_mb)
            scen[name] = {
                **an.as_dict(s),
                "loadgen_peak_cpu_pct": loadgen.peak_cpu_pct,
                "loadgen_cpu_warnings": warnings,
                "chain_cpu_s": res.cpu_s,
                "cpu_ms_per_request": 1000 * res.cpu_s / s.requests if s.requests else None,
                "html": f"locust/{chain}-{name}.html",
            }
            if s.failures:
                refused = sum(1 for r in reqs if r.status == 503)  # the overload policy's fast refusals
                why = f", {refused} of them refused by the overload policy (503, Retry-After)" if refused else ""
                notes.append(f"{name}: {s.failures} failed requests ({s.failure_pct:.2f}%){why}")
            if warnings or loadgen.samples_over_90:
                notes.append(f"{name}: load generator passed 90% CPU (peak {loadgen.peak_cpu_pct:.0f}%)")
            if name == "load_ramp":
                steps, bp = an.ramp(prefix, step_users, bound)
                series = an.cpu_series(prefix, "locust")
                rows = []
                for st in steps:
                    row = an.as_dict(st)
                    row["loadgen_cpu_pct"] = an.peak_in(series, st.start, st.end)
                    row["loadgen_saturated"] = bool(row["loadgen_cpu_pct"] and row["loadgen_cpu_pct"] > 90)
                    rows.append(row)
                out["steps"][chain] = rows
                c["breaking_users"], c["breaking_rps"], c["breaking_reason"] = bp.users, bp.rps, bp.reason
        if "response_time" in scen:
            rt = scen["response_time"]
            c |= {"single_p50_ms": rt["p50_ms"], "single_p95_ms": rt["p95_ms"], "single_p99_ms": rt["p99_ms"]}
        for attempt in range(1, HOLDS):
            aside = an.held_requests(loc / f"{chain}-max_performance{over_bound(attempt)}")
            if not aside:
                break
            s = an.summarise(aside)
            which = "the capacity's lower bound" if attempt == 1 else f"{STEP_DOWN:.0%} of the hold before"
            notes.append(
                f"max performance: the hold at {which} ({s.rps:.0f} req/s) had p99 "
                f"{s.p99_ms:.0f} ms, over the bound, so it was held again at {STEP_DOWN:.0%} of that load"
            )
        if "max_performance" in scen:
            mp = scen["max_performance"]
            c |= {
                "max_rps": mp["rps"],
                "max_p50_ms": mp["p50_ms"],
                "max_p95_ms": mp["p95_ms"],
                "max_p99_ms": mp["p99_ms"],
                "max_failure_pct": mp["failure_pct"],
                "cpu_s_per_request": mp["cpu_ms_per_request"] / 1000 if mp["cpu_ms_per_request"] else None,
            }
        cap = capacity.load(run / "loadgen" / chain)
        if cap:
            caps[chain] = cap
            out.setdefault("probes", {})[chain] = [asdict(p) for p in cap.probes]
            c |= {
                "capacity_qps": cap.qps,
                "capacity_low": cap.low,
                "capacity_high": cap.high,
                "capacity_text": cap.text(),
                "capacity_probes": len(cap.probes),
                "capacity_seconds": cap.seconds,
                "capacity_client_saturated": cap.client_saturated,
                "capacity_steal_pct": cap.machine("machine_steal_pct"),
                "capacity_speed_ms": cap.machine("speed_ms"),
                "capacity_rounds_found": cap.rounds_found(),
                "capacity_round_spread": cap.round_spread(),
                # CPU of the chain's processes per request, over its probes under capacity (None: not metered)
                "capacity_cpu_ms_per_request": cap.cpu_ms_per_request(),
            }
            if cap.client_saturated:
                notes.append("capacity: the LoadGen client passed 90% of a core in some probe")
            probes += cap.probes
        c["peak_rss_mb"] = max((x for x in rss if not math.isnan(x)), default=None)
        c["notes"] = notes
        out["chains"][chain] = c
        out["scenarios"][chain] = scen
    sync_cfg = m.get("settings", {}).get("scoring-sync", {})
    concurrency = sync_cfg.get("concurrency")  # what its server holds at once (api_common/servers)
    p50 = out["chains"].get("sync", {}).get("single_p50_ms")
    out["littles_bound_sync"] = concurrency / (p50 / 1000) if concurrency and p50 else None
    out["littles_inputs"] = {"concurrency": concurrency, "single_p50_ms": p50}
    for exp in all_experiments():  # what each experiment reads of its own files
        out |= exp.summarise(run, m)
    out["latency_bound_ms"] = bound
    out["capacity_bound_ms"] = float(opts.get("capacity_bound_ms", 250))
    out["capacity_ratio"] = _ratio(caps)
    out["transfer"] = transfer(out, m)  # the cost model's capacity on bigger machines, from the costs measured here
    out["capacity_warnings"] = capacity_warnings(out["chains"], out["capacity_ratio"])
    started = [p.started_at for p in probes if p.started_at]
    out["capacity_when"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(min(started))) if started else None
    earlier = history.load(run)
    out["capacity_earlier"] = {ch: history.spread(earlier, ch, cap.low, cap.high) for ch, cap in caps.items()}
    # The max-performance hold is judged against the bound it was sized by: the capacity's p99 bound.
    hold_bound = out["capacity_bound_ms"] if caps else bound
    for c in out["chains"].values():
        if c.get("max_p99_ms") is not None and c["max_p99_ms"] > hold_bound:
            c["max_over_bound_ms"] = hold_bound
    if probes:
        out["capacity_departures"] = capacity.departures(float(opts.get("capacity_probe_s", 60)), probes)
    out["remote"] = opts.get("remote", [])
    return out


def capacity_warnings(chains: dict[str, dict], ratio: dict | None) -> list[str]:
    """pyperf's warnings, for rounds: a figure whose spread between rounds is over 10% of its mean is unstable,
    and the rounds the ratio's requested precision would need; a machine whose hypervisor took over a tenth."""
    out = []
    for chain, c in chains.items():
        spread = c.get("capacity_round_spread")
        if spread is not None and spread > stats.UNSTABLE_SPREAD:
            out.append(f"unstable: the {chain} chain's figure moved {spread:.0%} between rounds (standard deviation "
                       f"over mean; over {stats.UNSTABLE_SPREAD:.0%})")  # fmt: skip
        steal = max((r["steal_pct"] for r in c.get("capacity_rounds_found") or [] if r.get("steal_pct") is not None),
                    default=None)  # fmt: skip
        if steal is not None and steal > 10:
            out.append(f"the hypervisor took {steal:.0f}% of the machine in a round of the {chain} chain: a shared "
                       "machine's other tenants were busy")  # fmt: skip
    spread = (ratio or {}).get("round_spread")
    if spread is not None and spread > stats.UNSTABLE_SPREAD:
        need = stats.rounds_needed(spread)
        out.append(
            f"unstable: the ratio moved {spread:.0%} between rounds; an interval of +-{stats.PRECISION:.0%} "
            f"would need about {need} rounds (--capacity-rounds {need}; this run had {ratio['rounds']})"
        )
    return out


def _ratio(caps: dict[str, capacity.Capacity]) -> dict[str, float | None] | None:
    """async / sync capacity with its 95% interval and verdict, the two chains paired by round."""
    if set(caps) != set(CHAINS):
        return None
    return caps["async"].ratio_to(caps["sync"])
