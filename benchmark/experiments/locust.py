"""Experiment 3: the four Locust scenarios per chain (response time, load ramp, max performance, stress)."""

from __future__ import annotations

from api_common.contract import CHAINS
from benchmark.experiments import Context, Experiment
from benchmark.locust import scenarios
from benchmark.render.tables import Section, num, summary_table
from benchmark.snapshot import chain_processes, locust_processes
from lab.control import state_file

OPTIONS = ("response_time_s", "ramp_max_users", "ramp_rate", "ramp_step_users", "max_performance_s", "stress_users",
           "stress_rate", "stress_s", "latency_bound_ms", "capacity_bound_ms")  # fmt: skip


def run(ctx: Context) -> dict:
    records = state_file(ctx.lab).read()
    procs = locust_processes()
    out = ctx.path / "locust"
    for chain in CHAINS:
        mine = [r for r in records if r.name in chain_processes(ctx.stack, chain)]
        # Max performance holds the load the capacity experiment found sustainable, when it ran before.
        held = ctx.found.get("sustainable", {}).get(chain)
        scenarios.up_to_max_performance(ctx.stack, chain, ctx.profile, out, mine, procs, ctx.progress, held)
        scenarios.stress(ctx.stack, chain, ctx.profile, out, mine, procs, ctx.progress)
    return {}


def sections(summary: dict) -> list[Section]:
    return [s for s in (_littles_law(summary), _scenarios(summary), _steps(summary)) if s is not None]


def _littles_law(summary: dict) -> Section | None:
    bound, inputs = summary.get("littles_bound_sync"), summary.get("littles_inputs", {})
    if not bound:
        return None
    n, p50 = inputs["concurrency"], inputs["single_p50_ms"]
    measured = summary["chains"]["sync"].get("max_rps")
    ratio = f" ({measured / bound:.0%} of the bound)" if measured else ""
    return Section(
        "Little's law, sync chain",
        f"The sync scoring handler holds {n} requests at once (workers x threads) and one request takes "
        f"{p50:.1f} ms at p50 for a single user, so it can serve at most {n} / {p50 / 1000:.4f} s = "
        f"{bound:.0f} req/s. Measured max sustained: {num(measured)} req/s{ratio}.",
    )


def _scenarios(summary: dict) -> Section | None:
    rows = []
    for chain in CHAINS:
        for name, s in summary["scenarios"].get(chain, {}).items():
            checks = []
            if s["loadgen_cpu_warnings"] or (s["loadgen_peak_cpu_pct"] or 0) > 90:
                checks.append("LOAD GENERATOR SATURATED")
            if s["failures"]:
                checks.append(f"{s['failures']} FAILURES")
            rows.append(
                [chain, name, str(s["requests"]), num(s["rps"]), num(s["p50_ms"]), num(s["p95_ms"]),
                 num(s["p99_ms"]), num(s["failure_pct"], ".2f"), num(s["loadgen_peak_cpu_pct"], ".0f"),
                 "; ".join(checks) or "ok"]
            )  # fmt: skip
    if not rows:
        return None
    return Section(
        "Locust scenarios",
        "Counted from Locust's per-request events; latencies include failed requests; req/s counts answers "
        "from the first request sent to the last answer. "
        "Load generator CPU is the peak over 0.5 s samples, in percent of one core.",
        [
            "chain",
            "scenario",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "fail %",
            "loadgen CPU %",
            "check",
        ],
        rows,
    )


def _steps(summary: dict) -> Section:
    rows = []
    for chain, steps in summary["steps"].items():
        for r in steps:
            mark = "load generator > 90% CPU: this step measured Locust" if r["loadgen_saturated"] else ""
            rows.append(
                [chain, str(r["users"]), num(r["offered_rps"]), num(r["rps"]), num(r["p50_ms"]), num(r["p95_ms"]),
                 num(r["p99_ms"]), num(r["failure_pct"], ".1f"), num(r["loadgen_cpu_pct"], ".0f"), mark]
            )  # fmt: skip
    if not rows:
        return None
    return Section(
        "Load ramp, step by step",
        "Each user sends one request per second, so the offered load in req/s is the user count. "
        "Breaking point: the last step before throughput fell under 95% of the offered load (it stopped "
        f"growing with the users), p95 passed {summary['latency_bound_ms']:.0f} ms, or requests failed.",
        [
            "chain",
            "users",
            "offered req/s",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "fail %",
            "loadgen CPU %",
            "note",
        ],
        rows,
        fold=True,
    )


def make_plots(summary: dict) -> dict[str, bytes]:
    from benchmark.render import plots  # matplotlib: only when a report is built

    if not summary.get("steps"):
        return {}
    steps = summary["steps"]
    offered = max((r["users"] for rows in steps.values() for r in rows), default=0)
    return {
        "throughput.png": plots.throughput(steps, summary.get("littles_bound_sync"), offered),
        "latency.png": plots.latency(steps, summary["latency_bound_ms"]),
    }


def console(summary: dict) -> list[str]:
    rows = summary_table(summary)
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':<{width}}  " + "  ".join(f"{c:>24}" for c in CHAINS)]
    lines += [f"{label:<{width}}  " + "  ".join(f"{c:>24}" for c in cells) for label, *cells in rows]
    lines += [f"breaking point, {chain}: {summary['chains'].get(chain, {}).get('breaking_reason', '-')}"
              for chain in CHAINS]  # fmt: skip
    return lines


EXPERIMENT = Experiment(
    "locust", 4, "the Locust scenarios", "experiment 3: the four Locust scenarios per chain", OPTIONS, run, sections,
    make_plots, console, expected_s=lambda profile: len(CHAINS) * scenarios.expected_s(profile),
)  # fmt: skip
