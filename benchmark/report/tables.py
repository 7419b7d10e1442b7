"""The report's tables and texts, built once and rendered both as HTML and as Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from api_common.contract import CHAINS


@dataclass
class Section:
    title: str
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fold: bool = False  # long step-by-step detail: folded under its title in the HTML
    verdict: bool = False  # the answer: text shown as set lines, first on the page
    image: str | None = None  # a plot shown right after this section


def num(v: Any, fmt: str = ".1f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt)


def _triple(c: dict, prefix: str) -> str:
    return " / ".join(num(c.get(f"{prefix}_{q}_ms")) for q in ("p50", "p95", "p99"))


def _users(c: dict) -> str:
    return "-" if c.get("breaking_users") is None else str(c["breaking_users"])


def _cpu_ms(c: dict) -> str:
    return num((c.get("cpu_s_per_request") or math.nan) * 1000, ".2f")


def _max_rps(c: dict) -> str:
    if c.get("max_over_bound_ms"):
        return f"{num(c.get('max_rps'))} (overload: p99 over {c['max_over_bound_ms']:.0f} ms)"
    return num(c.get("max_rps"))


def _capacity(c: dict) -> str:
    return c.get("capacity_text") or num(c.get("capacity_qps"), ".0f")


def ratio_text(r: dict | None, unit: str = "x") -> str:
    """``2.1x (1.9-2.4)``, or "no measurable difference" when the interval holds 1."""
    if not r:
        return "-"
    if r.get("low") is None:
        return f"{r['ratio']:.2f}{unit} (no interval)"
    if r["low"] <= 1.0 <= r["high"]:
        return f"no measurable difference ({r['low']:.2f}-{r['high']:.2f}{unit})"
    return f"{r['ratio']:.2f}{unit} ({r['low']:.2f}-{r['high']:.2f})"


def headline(summary: dict[str, Any]) -> list[str]:
    """The answer in a few lines: both capacities with intervals, their ratio, single-request latency."""
    chains = summary["chains"]
    lines = []
    if summary.get("probes"):
        lines.append(f"capacity at p99 <= {summary['capacity_bound_ms']:.0f} ms (LoadGen, open loop; 95% intervals):")
        lines += [f"  {ch:<6} {_capacity(chains.get(ch, {}))}" for ch in CHAINS]
        lines.append(f"  async / sync: {ratio_text(summary.get('capacity_ratio'))}")
    if any(chains.get(ch, {}).get("single_p50_ms") for ch in CHAINS):
        lines.append("single request p50 / p99 (ms): " + ", ".join(
            f"{ch} {num(chains[ch].get('single_p50_ms'))} / {num(chains[ch].get('single_p99_ms'))}" for ch in CHAINS
        ))  # fmt: skip
    return lines


SUMMARY_ROWS = [
    ("single-user p50 / p95 / p99 (ms)", lambda c: _triple(c, "single")),
    ("breaking point: users", _users),
    ("breaking point: req/s", lambda c: num(c.get("breaking_rps"))),
    ("max sustained req/s", _max_rps),
    ("  at p50 / p95 / p99 (ms)", lambda c: _triple(c, "max")),
    ("  failures (%)", lambda c: num(c.get("max_failure_pct"), ".2f")),
    ("peak RSS of the chain (MiB)", lambda c: num(c.get("peak_rss_mb"), ".0f")),
    ("CPU per request (ms, all chain processes)", _cpu_ms),
    ("capacity at the p99 bound (QPS, LoadGen, 95% interval)", _capacity),
]


def summary_table(summary: dict[str, Any]) -> list[list[str]]:
    """The summary's rows, without those no experiment of this run measured."""
    chains = summary["chains"]
    rows = [[label, *(fn(chains.get(ch, {})) for ch in CHAINS)] for label, fn in SUMMARY_ROWS]
    return [r for r in rows if any(cell.strip("-/ ") for cell in r[1:])]


def _verdict(summary: dict) -> Section | None:
    lines = headline(summary)
    if not lines:
        return None
    image = "capacity_curve.png" if summary.get("probes") else None
    return Section("Verdict", "\n".join(lines), verdict=True, image=image)


def _probes(summary: dict) -> Section | None:
    rows = []
    for chain, probes in summary.get("probes", {}).items():
        for p in probes:
            p99 = f"{num(p['p99_ms'], '.0f')} ({num(p.get('p99_low_ms'), '.0f')}-{num(p.get('p99_high_ms'), '.0f')})"
            rows.append([chain, p.get("phase", "-"), num(p["target_qps"], ".1f"), num(p.get("duration_s"), "g"),
                         str(p.get("queries", "-")), p99, str(p.get("over", "-")), str(p["errors"]),
                         "yes" if p.get("queue_building") else "no", str(p.get("early_stopping") or "-"),
                         p.get("verdict", "-")])  # fmt: skip
    if not rows:
        return None
    return Section(
        "LoadGen probes, one by one",
        "Each probe offers Poisson arrivals at its target for its duration. p99 with its 95% order-statistic "
        "interval (open above when the probe is too short to bound it); 'over': queries over the bound or failed; "
        "early stopping: LoadGen's 99%-confidence verdict that the p99 is under the bound; verdict: pass or fail "
        "with 99% confidence, else unsure.",
        ["chain", "phase", "target QPS", "s", "queries", "p99 ms (95%)", "over", "errors", "queue building",
         "early stopping", "verdict"],
        rows,
        fold=True,
    )  # fmt: skip


def _summary(summary: dict) -> Section:
    why = " ".join(
        f"Breaking point, {ch}: {summary['chains'][ch]['breaking_reason']}."
        for ch in CHAINS
        if summary["chains"].get(ch, {}).get("breaking_reason")
    )
    notes = [f"{ch}: {n}" for ch in CHAINS for n in summary["chains"].get(ch, {}).get("notes", [])]
    if summary.get("capacity_departures"):
        why += (
            f" Capacity: the offered load (LoadGen, Poisson arrivals, open loop) at which p99 meets "
            f"{summary['capacity_bound_ms']:.0f} ms with no failed request. {summary['capacity_departures']}"
        )
    for ch in summary.get("remote", []):
        why += f" The {ch} chain was measured at a URL given by the user: no RSS or CPU figures, no server profiles."
    return Section("Summary per chain", why, ["figure", *CHAINS], summary_table(summary), notes)


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


def _profiling(summary: dict) -> list[Section]:
    prof = summary.get("profiling", {})
    out = []
    if prof.get("breakdown"):
        cats = ("models", "redis", "serialisation", "framework", "total")
        rows = [[ch, *(num(b.get(k)) for k in cats)] for ch, b in prof["breakdown"].items()]
        out.append(
            Section(
                "Profiling: where one request's wall time goes (scoring handler, pyinstrument)",
                "One profiled request per chain (profilers slow it down); each frame's time goes to its outermost "
                "category (waiting on the model API, Redis, JSON and validation, everything else). In the async "
                "chain pyinstrument books part of the time spent awaiting to the event loop (framework) rather than "
                "to the call that awaits; the Server-Timing split of lab compare is the measured one.",
                ["chain", *(f"{c} (ms)" for c in cats)],
                rows,
            )
        )
    elif prof:
        out.append(Section("Profiling", "Server-side profiling was off: the stack was started without it."))
    if prof.get("files"):
        rows = [[key, ", ".join(names)] for key, names in prof["files"].items()]
        out.append(Section("Profile files (in profiling/)", "", ["chain-profiler", "files"], rows, fold=True))
    return out


def _timeit(summary: dict) -> Section | None:
    t = summary.get("timeit", {})
    if not t.get("rows"):
        return None
    return Section(
        "timeit",
        "Median time of n sequential calls per chain (see the plot). Mean over n of how much less time "
        f"the async chain took than the sync one: {t['async_faster_pct']:.1f}%.",
    )


def run_section(manifest: dict) -> Section:
    dirty = " (dirty)" if manifest.get("dirty") else ""
    rows = [
        ["commit", f"{manifest.get('commit')}{dirty}"],
        ["started / ended", f"{manifest.get('started')} / {manifest.get('ended')}"],
        ["complete", str(manifest.get("complete"))],
        [
            "machine",
            f"{manifest.get('cpu_count')} CPUs, {manifest.get('cpu_model')}, {manifest.get('memory_gib')} GiB",
        ],
        ["python", str(manifest.get("python"))],
        ["profile", str(manifest.get("options", {}).get("profile"))],
    ]
    return Section("Run", "Everything else (versions, every setting, options) is in manifest.json.", ["", ""], rows)


def sections(summary: dict[str, Any], manifest: dict[str, Any]) -> list[Section]:
    """The report's sections, in order."""
    found = [
        _verdict(summary),
        _summary(summary),
        _littles_law(summary),
        _scenarios(summary),
        _steps(summary),
        _probes(summary),
        *_profiling(summary),
        _timeit(summary),
        run_section(manifest),
    ]
    return [s for s in found if s is not None]
