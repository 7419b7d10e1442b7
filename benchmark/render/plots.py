"""The report's plots, as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"sync": "tab:blue", "async": "tab:orange"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def throughput(steps: dict[str, list[dict]], littles_bound: float | None, offered_max: float) -> bytes:
    """Throughput against users for both chains, the offered load, and the sync Little's-law bound."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for chain, rows in steps.items():
        ax.plot(
            [r["users"] for r in rows],
            [r["rps"] for r in rows],
            "o-",
            ms=3,
            color=COLORS[chain],
            label=f"{chain} chain",
        )
    ax.plot([0, offered_max], [0, offered_max], ":", color="grey", label="offered load (1 req/s per user)")
    if littles_bound:
        ax.axhline(
            littles_bound,
            color=COLORS["sync"],
            ls="--",
            lw=1,
            label=f"sync Little's-law bound ({littles_bound:.0f} req/s)",
        )
    ax.set_xlabel("concurrent users")
    ax.set_ylabel("throughput (requests/s)")
    ax.set_title("Load ramp: throughput against users")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def latency(steps: dict[str, list[dict]], bound_ms: float) -> bytes:
    """p50, p95 and p99 latency against users for both chains (log scale)."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for chain, rows in steps.items():
        users = [r["users"] for r in rows]
        for key, style in (("p50_ms", "-"), ("p95_ms", "--"), ("p99_ms", ":")):
            ax.plot(users, [r[key] for r in rows], style, color=COLORS[chain], label=f"{chain} {key[:3]}")
    ax.axhline(bound_ms, color="red", lw=0.8, label=f"latency bound ({bound_ms:.0f} ms)")
    ax.set_yscale("log")
    ax.set_xlabel("concurrent users")
    ax.set_ylabel("response time (ms, log scale)")
    ax.set_title("Load ramp: latency percentiles against users")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def timeit(rows: list[dict]) -> bytes:
    """Median time of n sequential calls against n, with the min-max band."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for chain in COLORS:
        mine = sorted((r for r in rows if r["chain"] == chain), key=lambda r: int(r["n"]))
        if not mine:
            continue
        n = [int(r["n"]) for r in mine]
        ax.plot(n, [float(r["median_s"]) for r in mine], "o-", ms=3, color=COLORS[chain], label=f"{chain} median")
        ax.fill_between(
            n,
            [float(r["min_s"]) for r in mine],
            [float(r["max_s"]) for r in mine],
            color=COLORS[chain],
            alpha=0.2,
        )
    ax.set_xlabel("sequential calls n")
    ax.set_ylabel("time for n calls (s)")
    ax.set_title("timeit: n sequential predictions (band: min to max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def breakdown(rows: dict[str, dict[str, float]]) -> bytes:
    """Stacked bars: where one request's wall time went in each chain's scoring handler."""
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    cats = ["models", "redis", "serialisation", "framework"]
    chains = list(rows)
    left = [0.0] * len(chains)
    for cat, color in zip(cats, ["tab:green", "tab:red", "tab:purple", "tab:gray"], strict=True):
        values = [rows[c].get(cat, 0.0) for c in chains]
        ax.barh(chains, values, left=left, color=color, label=cat)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("wall time of one request in the scoring handler (ms)")
    ax.set_title("Profiling: where one request's time goes")
    ax.legend(fontsize=8, ncol=4, loc="lower right")
    return _png(fig)


def capacity(rows: list[dict]) -> bytes:
    """Capacity at the p99 bound per variant (horizontal bars, coloured by chain)."""
    rows = [r for r in rows if r.get("capacity_qps") is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.2))
    names = [r["name"] for r in rows][::-1]
    values = [r["capacity_qps"] for r in rows][::-1]
    # The 95% interval as an error bar; none where the run could not give one.
    err = [[max(v - (r.get("capacity_low") or v), 0) for r, v in zip(rows[::-1], values, strict=True)],
           [max((r.get("capacity_high") or v) - v, 0) for r, v in zip(rows[::-1], values, strict=True)]]  # fmt: skip
    ax.barh(names, values, xerr=err, capsize=3, color=[COLORS[r["chain"]] for r in rows][::-1])
    ax.set_xlabel("capacity: load at which p99 meets the bound, with its 95% interval (queries/s)")
    ax.set_title("Capacity at the p99 bound, per variant (LoadGen, open loop)")
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


def split(rows: list[dict]) -> bytes:
    """Stacked bars: a single request's latency split per variant, from Server-Timing."""
    rows = [r for r in rows if r.get("split_ms")]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.6))
    names = [r["name"] for r in rows][::-1]
    keys = list(rows[0]["split_ms"]) if rows else []
    left = [0.0] * len(rows)
    for key, color in zip(keys, ["tab:gray", "tab:red", "tab:green", "tab:purple"], strict=False):
        values = [max(r["split_ms"][key], 0.0) for r in rows][::-1]
        ax.barh(names, values, left=left, color=color, label=key)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("single-user median latency (ms)")
    ax.set_title("Where one request's time goes, per variant")
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def capacity_curve(probes: dict[str, list[dict]], caps: dict[str, dict], bound_ms: float) -> bytes:
    """p99 of every LoadGen probe against its offered load, both chains, with the bound and each capacity."""
    fig, ax = plt.subplots(figsize=(11.5, 4.6))
    for chain, rows in probes.items():
        rows = sorted((r for r in rows if r.get("p99_ms")), key=lambda r: r["target_qps"])
        if not rows:
            continue
        color = COLORS[chain]
        xs = [r["target_qps"] for r in rows]
        ys = [r["p99_ms"] for r in rows]
        # The interval comes from the client's own log, the p99 from LoadGen's (timed from the schedule):
        # the two can disagree by a little, so a bar never points the wrong way.
        lo = [max(y - (r.get("p99_low_ms") or y), 0) for r, y in zip(rows, ys, strict=True)]
        hi = [max((r.get("p99_high_ms") or y) - y, 0) for r, y in zip(rows, ys, strict=True)]
        queue = [r.get("queue_building") for r in rows]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", ms=4, color=color, alpha=0.8, elinewidth=0.8,
                    label=f"{chain}: p99 of a probe (95% interval)")  # fmt: skip
        ax.plot([x for x, q in zip(xs, queue, strict=True) if q], [y for y, q in zip(ys, queue, strict=True) if q],
                "x", color="black", ms=7, label=None)  # fmt: skip
        cap = caps.get(chain, {})
        if cap.get("capacity_qps"):
            ax.axvline(cap["capacity_qps"], color=color, lw=1.2, ls="--")
            if cap.get("capacity_low") is not None:
                ax.axvspan(cap["capacity_low"], cap["capacity_high"], color=color, alpha=0.15,
                           label=f"{chain} capacity {cap.get('capacity_text', '')}")  # fmt: skip
    ax.axhline(bound_ms, color="red", lw=1, label=f"p99 bound ({bound_ms:.0f} ms)")
    ax.plot([], [], "x", color="black", label="queue building within the probe")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (queries/s, Poisson arrivals)")
    ax.set_ylabel("p99 latency (ms, log scale)")
    ax.set_title("Latency against offered load (LoadGen probes); shaded: capacity's 95% interval")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def sweep(rows: list[dict], name: str) -> bytes:
    """Capacity with its interval (left) and RSS (right) against the scoring handler's worker processes."""
    rows = [r for r in rows if r.get("scoring_workers")]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    workers = [r["scoring_workers"] for r in rows]
    caps = [r.get("capacity_qps") or 0 for r in rows]
    err = [[max(c - (r.get("capacity_low") or c), 0) for r, c in zip(rows, caps, strict=True)],
           [max((r.get("capacity_high") or c) - c, 0) for r, c in zip(rows, caps, strict=True)]]  # fmt: skip
    ax.errorbar(workers, caps, yerr=err, fmt="o-", capsize=3, color="tab:orange", label="capacity (95% interval)")
    ax.set_xlabel("scoring handler worker processes")
    ax.set_ylabel("capacity at the p99 bound (queries/s)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(workers, [r.get("scoring_rss_mb") for r in rows], "s--", color="tab:gray", label="scoring RSS, total")
    right.plot(workers, [r.get("rss_per_worker_mb") for r in rows], "^:", color="tab:green", label="RSS per worker")
    right.set_ylabel("RSS (MiB)")
    right.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], fontsize=8, loc="upper left")
    ax.set_title(f"Worker sweep: {name}")
    return _png(fig)


def frontier(rows: list[dict], name: str, base: dict | None) -> bytes:
    """The batching frontier: capacity (with its interval) against a lone request's p50, one line per batch cap,
    each point labelled with its max wait; the unbatched twin as a star."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    caps = sorted({r.get("max_batch_size") for r in rows if r.get("max_batch_size") is not None})
    for cap in caps:
        line = sorted((r for r in rows if r.get("max_batch_size") == cap and r.get("capacity_qps") is not None),
                      key=lambda r: r.get("max_wait_ms") or 0)  # fmt: skip
        if not line:
            continue
        x = [r["capacity_qps"] for r in line]
        err = [[max(q - (r.get("capacity_low") or q), 0) for r, q in zip(line, x, strict=True)],
               [max((r.get("capacity_high") or q) - q, 0) for r, q in zip(line, x, strict=True)]]  # fmt: skip
        y = [r.get("single_p50_ms") for r in line]
        # Points, not a line: a setting's neighbour in wait is not its neighbour on the frontier.
        ax.errorbar(x, y, xerr=err, fmt="os^v"[caps.index(cap) % 4], capsize=3, label=f"batch cap {cap}")
        for r, xi, yi in zip(line, x, y, strict=True):
            if yi is not None:
                ax.annotate(f"{r.get('max_wait_ms'):g} ms", (xi, yi), textcoords="offset points", xytext=(4, 4),
                            fontsize=8)  # fmt: skip
    if base and base.get("capacity_qps") and base.get("single_p50_ms") is not None:
        ax.plot([base["capacity_qps"]], [base["single_p50_ms"]], "*", markersize=14, color="tab:red",
                label=f"{base['name']} (unbatched)")  # fmt: skip
    elif base:  # measured, but no capacity: said in the legend rather than drawn at 0
        ax.plot([], [], "*", markersize=14, color="tab:red", label=f"{base['name']} (unbatched): no capacity found")
    ax.set_xlabel("capacity at the p99 bound (queries/s, 95% interval)")
    ax.set_ylabel("single-request p50 (ms)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"Batching frontier: {name} (labels: max wait)")
    return _png(fig)


POLICY_STYLE = {"off": ("tab:red", "x"), "fixed": ("tab:orange", "s"), "delay": ("tab:green", "o")}


def goodput(summary: dict) -> bytes:
    """Goodput as a share of capacity against offered load (as a multiple of it): one panel per variant,
    one line per overload policy, with the ideal (all of the offered load up to capacity, then capacity)."""
    names = [n for n, c in summary["capacity"].items() if c.get("capacity_qps")]
    cols = min(len(names), 2) or 1
    rows = math.ceil(len(names) / cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(11.5, 3.4 * rows), squeeze=False, sharey=True)
    top = max([1.2] + [p["multiple"] for p in summary["points"]])
    for ax, name in zip(axes.flat, names, strict=False):
        cap = summary["capacity"][name]["capacity_qps"]
        ax.plot([0, 1, top], [0, 1, 1], color="0.6", lw=1, ls="--", label="ideal")
        ax.axhline(0.9, color="0.8", lw=1, ls=":", label="target at 2x, 3x: 90%")
        for policy, (color, marker) in POLICY_STYLE.items():
            pts = sorted((p for p in summary["points"] if p["variant"] == name and p["policy"] == policy),
                         key=lambda p: p["multiple"])  # fmt: skip
            if pts:
                ax.plot([p["multiple"] for p in pts], [p["goodput_qps"] / cap for p in pts], marker=marker,
                        color=color, label=policy)  # fmt: skip
        ax.set_title(f"{name} (capacity {cap:.0f} QPS)", fontsize=10)
        ax.set_xlabel("offered load (multiple of capacity)")
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("goodput / capacity")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Goodput past capacity: answers within {summary['bound_ms']:.0f} ms per second, per overload policy")
    fig.tight_layout()
    return _png(fig)


def pareto(rows: list[dict], front: list[str]) -> bytes:
    """Capacity against memory, one point per candidate with its 95% interval; the Pareto frontier joined."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in rows:
        on = r["name"] in front
        low, high = r.get("low") or r["capacity_qps"], r.get("high") or r["capacity_qps"]
        ax.errorbar(r["model_rss_mb"], r["capacity_qps"], yerr=[[r["capacity_qps"] - low], [high - r["capacity_qps"]]],
                    fmt="o" if on else "x", color="C0" if on else "0.6", capsize=3)  # fmt: skip
        if on:
            ax.annotate(r["name"], (r["model_rss_mb"], r["capacity_qps"]), fontsize=8, xytext=(4, 4),
                        textcoords="offset points")  # fmt: skip
    line = sorted((r["model_rss_mb"], r["capacity_qps"]) for r in rows if r["name"] in front)
    if len(line) > 1:
        ax.plot(*zip(*line, strict=True), color="C0", linewidth=1)
    ax.set_xlabel("memory of the model tier (MB, every process)")
    ax.set_ylabel("capacity at the p99 bound (QPS)")
    ax.set_title("Candidates: capacity against memory (joined: the Pareto frontier)")
    ax.grid(alpha=0.3)
    return _png(fig)


def waterfall(chains: dict[str, dict], options: dict, lab_layers: set[str]) -> bytes:
    """Per chain, its default's CPU per request, then each step's saving as a floating bar (the lab's own layers in
    red, the client's and the framework's parts in blue; its 95% interval as an error bar), down to the last step;
    the registered floor, held apart, as a dashed line."""
    fig, axes = plt.subplots(len(chains), 1, figsize=(10.5, 3.9 * len(chains)), squeeze=False)
    for ax, (chain, c) in zip(axes[:, 0], chains.items(), strict=True):
        steps = {s["name"]: s for s in c["steps"]}
        first = c["steps"][0]
        level = first["cpu_ms"]["mean"]
        labels, x = [f"{first['name']}\n(default)"], 0
        ax.bar(0, level, color="0.55")
        ax.text(0, level, f"{level:.2f}", ha="center", va="bottom", fontsize=8)
        for x, cost in enumerate(c["costs"], 1):
            saved, layer = cost["saved"], steps[cost["step"]]["layer"]
            color = "tab:red" if layer in lab_layers else "tab:blue"
            ax.bar(x, saved["mean"], bottom=level - saved["mean"], color=color, alpha=0.85)
            if saved["low"] is not None:
                ax.errorbar(x, level - saved["mean"], yerr=[[saved["high"] - saved["mean"]], [saved["mean"] -
                            saved["low"]]], color="k", capsize=3, lw=1)  # fmt: skip
            said = f"-{saved['mean']:.2f}" if saved["mean"] >= 0 else f"+{-saved['mean']:.2f}"  # a step that cost more
            ax.text(x, max(level, level - saved["mean"]), said, ha="center", va="bottom", fontsize=8)
            level -= saved["mean"]
            labels.append(layer + ("\n(floor)" if layer == "floor" else ""))
        ax.bar(x + 1, level, color="0.35")
        ax.text(x + 1, level, f"{level:.2f}", ha="center", va="bottom", fontsize=8)
        labels.append("what is left")
        floor = next((s for s in c["steps"] if s["name"] == f"{chain}-floor"), None)
        if floor:
            ax.axhline(floor["cpu_ms"]["mean"], ls="--", color="k", lw=0.8)
            ax.text(x + 1.45, floor["cpu_ms"]["mean"], f"{chain}-floor\nheld apart", fontsize=7, va="center")
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_ylabel("CPU ms per request (both tiers)")
        ax.set_title(f"{chain}: CPU per request at {options['hold_qps'][chain]:g} QPS, one layer off at a time "
                     "(red: the lab's own layers; blue: client and framework)", fontsize=10)  # fmt: skip
        ax.set_ylim(0, first["cpu_ms"]["mean"] * 1.12)
        ax.set_xlim(-0.6, x + 2.2)
    return _png(fig)
