"""``lab ablation``: where each millisecond of CPU goes, layer by layer, from each chain's default down to its floor.

Every step of a chain's walk (``lab.variants.walk``: the default, then one layer off or swapped at a time) runs as a
chain of its own on free ports beside one shared Redis, all up at once. In each round every step, in a shuffled
order, is held at the same fixed open-loop load (LoadGen, well under every step's capacity) and the CPU time of its
processes (both tiers; Redis is shared and left out) is read around the hold: its CPU per request in that round.
A layer's cost is the difference between its step and the step before, paired by round, so that a drift of the
shared machine between rounds cancels; its 95% interval is Student's t over the rounds' differences. The chain's
registered floor (``async-floor``, ``sync-floor``) is held too, apart from the walk: the steps down to the walk's
floor must add up to the default's difference from it (the sum check). A fixed load makes the figure not depend on
how far each step is from its capacity; the capacity at the bound, for the targets, is searched after the holds
(``--capacity``: the default, the leanest framework chain and the floor, interleaved as ``lab compare`` does).
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from api_common.ports import free_port
from benchmark import layercost
from benchmark.loadgen import capacity, probing
from benchmark.loadgen import search as loadgen_search
from benchmark.profiles import Profile
from benchmark.progress import Progress
from benchmark.render.tables import Section, num, ratio_text
from benchmark.rundir import Run, load_manifest, manifest, new_run_dir, write_json
from benchmark.snapshot import settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control, processes, variants
from lab.ports import service_ports
from lab.settings import LabSettings
from lab.stack import Stack
from lab.variants import Variant

# The hold's load: well under every step's capacity here (async default about 350 QPS, sync about 45 on 2 cores),
# and the same for every step of a chain, so that CPU per request does not move with the distance to capacity.
HOLD_QPS = {"async": 100.0, "sync": 20.0}
HOLD_S = 8.0
ROUNDS = 5
LAYER_SHARE = 0.05  # a lab layer should cost at most this share of the default's CPU per request (issue 35)
TARGETS = {"default": 0.60, "lean": 0.80}  # of the floor's capacity: the default chain, the leanest framework chain
# Student's t, two-sided 95%, by degrees of freedom: the few values a handful of rounds needs (SciPy is not a
# dependency of the lab for a table of ten numbers; past 10 the normal's 1.96 is within 6%).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


# --- statistics (pure) ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float | None  # 95%, Student's t over the rounds; None from one round
    high: float | None
    n: int

    def holds(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high


def t_interval(values: list[float]) -> Interval:
    """The mean of ``values`` and its 95% interval (Student's t: the rounds are few and roughly normal)."""
    n = len(values)
    if n == 0:
        return Interval(math.nan, None, None, 0)
    mean = statistics.fmean(values)
    if n < 2:
        return Interval(mean, None, None, n)
    half = T975.get(n - 1, 1.96) * statistics.stdev(values) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def paired(a: dict[int, float], b: dict[int, float]) -> Interval:
    """``a`` minus ``b``, paired by round (the rounds both have), with its interval."""
    return t_interval([a[r] - b[r] for r in sorted(a) if r in b])


def layer_costs(per_round: dict[str, dict[int, float]], order: list[str]) -> list[dict[str, Any]]:
    """Each step's cost: the step before it minus it (what turning its layer off saved, in CPU ms per request),
    paired by round, with its share of the first step's CPU per request."""
    base = t_interval(list(per_round[order[0]].values())).mean
    out = []
    for before, step in zip(order, order[1:], strict=False):
        saved = paired(per_round[before], per_round[step])
        out.append({"step": step, "saved": asdict(saved), "share": saved.mean / base if base else None,
                    "share_high": saved.high / base if base and saved.high is not None else None})  # fmt: skip
    return out


# --- the run -------------------------------------------------------------------------------------------------------


def steps_of(chain: str) -> list[Variant]:
    """The walk, then the registered floor (held apart, for the sum check)."""
    return [*variants.walk(chain), variants.get(f"{chain}-floor")]


def capacity_steps(chain: str) -> list[str]:
    """Searched for the targets: the default, the default without the lab's own layers (the last lab layer's step
    before the client's and the framework's), the leanest framework chain (the walk's step before its floor) and the
    floor."""
    walk = [v.name for v in variants.walk(chain)]
    floor = walk.index(f"{chain}-walk-floor")
    own = [n for n in walk[1:floor] if n.removeprefix(f"{chain}-walk-") in variants.LAB_LAYERS]
    return list(dict.fromkeys([walk[0], *own[-1:], walk[floor - 1], f"{chain}-floor"]))


def run(chains: list[str], lab: LabSettings, profile: Profile, progress: Callable[[str], None] | Progress = print,
        hold_qps: dict[str, float] | None = None, hold_s: float = HOLD_S, rounds: int = ROUNDS,
        with_capacity: bool = False, seed: int = 0, only: list[str] | None = None, in_process: bool = True
        ) -> Path:  # fmt: skip
    """Walk ``chains``; returns the run folder (its report rebuilt from the saved holds). ``only``: these steps of the
    walks and no others (each chain's default and registered floor are always held); ``in_process``: time the lab's
    layers in process first (``benchmark.layercost``)."""
    from benchmark.report.build import build

    qps = HOLD_QPS | (hold_qps or {})
    chosen = [v for chain in chains for v in steps_of(chain)
              if only is None or v.name in only or v.name in (chain, f"{chain}-floor")]  # fmt: skip
    path = new_run_dir(lab.results_dir, "ablation")
    redis_port = free_port()
    stacks = {v.name: variants.stack_for(v, service_ports(redis_port)) for v in chosen}
    options = profile.as_dict() | {
        "profile": profile.name, "kind": "ablation", "chains": chains, "hold_qps": {c: qps[c] for c in chains},
        "hold_s": hold_s, "rounds": rounds, "capacity": with_capacity,
        "walks": {c: [v.name for v in chosen if v.chain == c] for c in chains},
        "described": {v.name: asdict(v.describe()) for v in chosen},
        "layers": {v.name: tag for c in chains for v in steps_of(c)
                   if (tag := v.name.removeprefix(f"{c}-walk-")) != v.name},
        "lab_layers": sorted(variants.LAB_LAYERS),
    }  # fmt: skip
    run_ = Run(path, manifest({n: settings_snapshot(s) for n, s in stacks.items()}, options))
    alab = lab.model_copy(update={"state_dir": lab.state_dir / "ablation"})
    control.cleanup_stale(alab, progress)
    progress(f"run folder: {path}")
    try:
        with run_.recording():
            if in_process:
                progress("the lab's layers in process (benchmark/layercost.py): about 15 s a chain")
                components = {c: layercost.as_dicts(layercost.measure(c)) for c in chains}
                write_json(path / "components.json",
                           {"apps": components, "scoring_only_us": layercost.scoring_only_us()})  # fmt: skip
            control.start(stacks[chosen[0].name], alab, ["redis"], log=lambda *_: None)
            records = {}
            for i, v in enumerate(chosen, 1):
                progress(f"[{i}/{len(chosen)}] {v.name}: starting")
                stack = stacks[v.name]
                records[v.name] = control.start(stack, alab, stack.chain_names(v.chain), log=lambda *_: None,
                                                instance=v.name)  # fmt: skip
                verify(stack, chains=(v.chain,))
                warm_up(stack, chains=(v.chain,))
            hold_all(chosen, stacks, records, qps, hold_s, rounds, path, profile, progress, seed)
            if with_capacity:
                searched = {n: (variants.get(n), stacks[n]) for c in chains for n in capacity_steps(c) if n in stacks}
                search_all(searched, path, profile, progress)
    finally:
        control.down(alab, log=lambda *_: None)
        build(path)
    return path


def hold_all(chosen: list[Variant], stacks: dict[str, Stack], records: dict[str, list], qps: dict[str, float],
             hold_s: float, rounds: int, path: Path, profile: Profile, progress, seed: int) -> None:  # fmt: skip
    """Every step held at its chain's load, once a round, each hold saved as it ends. A layer's cost is the difference
    of two steps next to each other in the walk, so they are held next to each other in time: the walk's order in odd
    rounds, reversed in even ones (a drift within a round then weighs on both sides of each pair alike over two
    rounds), the chains' order shuffled (``seed``)."""
    shuffle = random.Random(seed)
    by_chain: dict[str, list[Variant]] = {}
    for v in chosen:
        by_chain.setdefault(v.chain, []).append(v)
    for r in range(1, rounds + 1):
        chains = list(by_chain)
        shuffle.shuffle(chains)
        order = [v for c in chains for v in (by_chain[c] if r % 2 else by_chain[c][::-1])]
        progress(f"round {r}/{rounds}: {len(order)} holds of {hold_s:g} s")
        for v in order:
            url = stacks[v.name].scoring(v.chain).predict_url
            probing.settle(url, profile.capacity_bound_ms)
            cpu0 = processes.cpu_seconds(records[v.name])
            p = probing.probe(url, qps[v.chain], hold_s, profile.capacity_bound_ms, stacks[v.name].redis.entities,
                              path / "holds" / v.name / f"round-{r}")  # fmt: skip
            cpu_s = processes.cpu_seconds(records[v.name]) - cpu0
            hold = {"variant": v.name, "chain": v.chain, "round": r, "qps": qps[v.chain], "seconds": hold_s,
                    "queries": p.queries, "cpu_s": round(cpu_s, 3), "errors": p.errors, "p50_ms": p.p50_ms,
                    "p99_ms": p.p99_ms, "passed": p.passed, "speed_ms": p.speed_ms,
                    "machine_busy_pct": p.machine_busy_pct}  # fmt: skip
            write_json(path / "holds" / v.name / f"round-{r}" / "hold.json", hold)
            per = 1000 * cpu_s / p.queries if p.queries else math.nan
            progress(f"    {v.name}: {per:.2f} ms CPU a request, p50 {num(p.p50_ms)} ms, {p.errors} errors")


def search_all(searched: dict[str, tuple[Variant, Stack]], path: Path, profile: Profile, progress) -> None:
    searches = {
        name: capacity.Search(stack.scoring(v.chain).predict_url, profile.capacity_bound_ms, profile.capacity_probe_s,
                              path / "loadgen" / name, budget_s=profile.capacity_budget_s,
                              entities=stack.redis.entities, progress=progress, label=f"{name} ",
                              rounds=profile.capacity_rounds)
        for name, (v, stack) in searched.items()
    }  # fmt: skip
    progress(f"capacity at p99 <= {profile.capacity_bound_ms:.0f} ms: {len(searches)} searches interleaved, about "
             f"{len(searches) * loadgen_search.expected_s(profile) / 60:.0f} min")  # fmt: skip
    for name, cap in capacity.interleaved(searches).items():
        progress(f"    {name}: {cap.text()}")


# --- the report ----------------------------------------------------------------------------------------------------


def load_holds(run: Path) -> list[dict[str, Any]]:
    return [json.loads(f.read_text()) for f in sorted((run / "holds").glob("*/round-*/hold.json"))]


def summarise(run: Path) -> dict[str, Any]:
    """Per chain: each step's CPU per request and p50 with intervals, each layer's cost, the sum check, and the
    capacities and targets when searched; from the saved holds and probes."""
    opts = load_manifest(run).get("options", {})
    holds = load_holds(run)
    out: dict[str, Any] = {"kind": "ablation", "options": opts, "chains": {}}
    found = run / "components.json"
    components = json.loads(found.read_text()) if found.exists() else {"apps": {}, "scoring_only_us": {}}
    for chain in opts.get("chains", []):
        names = opts["walks"][chain]
        walk, floor = names[:-1], names[-1]
        per_round: dict[str, dict[int, float]] = {n: {} for n in names}
        p50: dict[str, list[float]] = {n: [] for n in names}
        errors = {n: 0 for n in names}
        for h in holds:
            if h["variant"] in per_round and h["queries"]:
                per_round[h["variant"]][h["round"]] = 1000 * h["cpu_s"] / h["queries"]
                errors[h["variant"]] += h["errors"]
                if h["p50_ms"] is not None:
                    p50[h["variant"]].append(h["p50_ms"])
        measured = [n for n in walk if per_round[n]]
        steps = [{"name": n, "change": opts["described"][n]["change"], "layer": opts["layers"].get(n, ""),
                  "cpu_ms": asdict(t_interval(list(per_round[n].values()))),
                  "p50_ms": statistics.median(p50[n]) if p50[n] else None, "errors": errors[n]}
                 for n in names if per_round[n]]  # fmt: skip
        costs = layer_costs(per_round, measured) if len(measured) > 1 else []
        walk_floor = f"{chain}-walk-floor"
        check = None
        if per_round.get(walk_floor) and per_round.get(floor) and per_round[walk[0]]:
            walked = paired(per_round[walk[0]], per_round[walk_floor])
            direct = paired(per_round[walk[0]], per_round[floor])
            check = {"walked": asdict(walked), "direct": asdict(direct),
                     "apart": asdict(paired(per_round[walk_floor], per_round[floor]))}  # fmt: skip
        base = steps[0]["cpu_ms"]["mean"] if steps else None
        in_process = [c | {"share": c["per_scoring_request_us"] / 1000 / base if base else None}
                      for c in components["apps"].get(chain, [])]  # fmt: skip
        in_process += [{"layer": name, "us": us, "low": None, "high": None, "base_us": None,
                        "per_scoring_request_us": us, "share": us / 1000 / base if base else None}
                       for name, us in components["scoring_only_us"].items()]  # fmt: skip
        out["chains"][chain] = {"steps": steps, "costs": costs, "sum_check": check, "in_process": in_process,
                                "capacity": _capacities(run, chain, opts)}  # fmt: skip
    return out


def _capacities(run: Path, chain: str, opts: dict) -> dict[str, Any] | None:
    if not opts.get("capacity"):
        return None
    names = [n for n in capacity_steps(chain) if n in opts["walks"][chain]]
    caps = {n: capacity.load(run / "loadgen" / n) for n in names}
    floor = caps[names[-1]]
    rows = {n: {"text": c.text(), "qps": c.qps, "low": c.low, "high": c.high,
                "of_floor": c.ratio_to(floor) if c and n != names[-1] else None} if c else None
            for n, c in caps.items()}  # fmt: skip
    return {"names": names, "rows": rows}


def _ms(i: dict) -> str:
    return f"{i['mean']:.3f} ({num(i['low'], '.3f')} to {num(i['high'], '.3f')})"


def sections(summary: dict[str, Any]) -> list[Section]:
    opts = summary["options"]
    out, lines = [], []
    for chain, c in summary["chains"].items():
        if not c["steps"]:
            continue
        first, costs = c["steps"][0], c["costs"]
        lab_costs = [x for x in costs if _layer(opts, x["step"]) in variants.LAB_LAYERS]
        over = [x for x in lab_costs if x["share"] is not None and x["share"] > LAYER_SHARE]
        top = sorted(costs, key=lambda x: -x["saved"]["mean"])[:3]
        largest = ", ".join(f"{_layer(opts, x['step'])} {x['saved']['mean']:.2f} ms ({x['share']:.0%})" for x in top)
        lines.append(f"{chain}: {first['cpu_ms']['mean']:.2f} ms of CPU a request at {opts['hold_qps'][chain]:g} QPS "
                     f"(both tiers); the largest steps: {largest}")  # fmt: skip
        lines.append(f"    the lab's own layers over {LAYER_SHARE:.0%} each, held in the stack: "
                     + (", ".join(f"{_layer(opts, x['step'])} {x['share']:.1%}" for x in over) or "none"))  # fmt: skip
        if c.get("in_process"):
            worst = max(c["in_process"], key=lambda x: x["share"] or 0)
            each = ", ".join(f"{x['layer']} {x['share']:.1%}" for x in c["in_process"] if x["share"] is not None)
            lines.append(f"    the same layers timed in process, per request of the chain: {each} (largest "
                         f"{worst['layer']}: {'within' if (worst['share'] or 0) <= LAYER_SHARE else 'OVER'} "
                         f"{LAYER_SHARE:.0%})")  # fmt: skip
        if c["sum_check"]:
            s = c["sum_check"]
            agree = s["apart"]["low"] is not None and s["apart"]["low"] <= 0 <= s["apart"]["high"]
            lines.append(f"    sum check: the steps down to the walk's floor add up to {s['walked']['mean']:.2f} ms; "
                         f"the registered floor, held apart, is {s['direct']['mean']:.2f} ms under the default ("
                         + ("they agree within the interval" if agree else
                            f"they differ by {s['apart']['mean']:.2f} ms ({num(s['apart']['low'], '.2f')} to "
                            f"{num(s['apart']['high'], '.2f')})") + ")")  # fmt: skip
        cap = c.get("capacity")
        if cap:
            lines += _target_lines(chain, cap)
    out.append(Section("Where the CPU goes, layer by layer", "\n".join(lines), verdict=True, image="waterfall.png"))
    for chain, c in summary["chains"].items():
        rows = []
        saved = {x["step"]: x for x in c["costs"]}
        for s in c["steps"]:
            x = saved.get(s["name"])
            share = f"{x['share']:.1%}" if x and x["share"] is not None else "-"
            saved_ms = _ms(x["saved"]) if x else "-"
            rows.append([s["name"], s["layer"] or "-", _kind(s["layer"]), _ms(s["cpu_ms"]), saved_ms, share,
                         num(s["p50_ms"]), str(s["errors"]), s["change"]])  # fmt: skip
        out.append(Section(
            f"{chain}: each step at {opts['hold_qps'][chain]:g} QPS, {opts['rounds']} rounds of {opts['hold_s']:g} s",
            "CPU per request: both tiers' processes, from /proc, over each hold; saved: the step before minus this "
            "one, paired by round; 95% intervals (Student's t over the rounds). The last row is the registered floor, "
            "held apart from the walk.",
            ["step", "layer", "kind", "CPU ms / request", "saved (ms)", "of default", "p50 ms", "errors", "change"],
            rows))  # fmt: skip
        if c.get("in_process"):
            rows = [[x["layer"], num(x["us"]), f"{num(x['low'])} to {num(x['high'])}" if x["low"] is not None else "-",
                     num(x["base_us"]), num(x["per_scoring_request_us"]), f"{x['share']:.1%}" if x["share"] else "-"]
                    for x in c["in_process"]]  # fmt: skip
            out.append(Section(
                f"{chain}: the lab's own layers timed in process",
                "Each layer's CPU per request in the chain's model tier app (every layer on, against the same app with "
                "that one layer off; repetitions back to back; median and the repetitions' range), counted once per "
                "app a request of the chain passes (the scoring app and each model call); Server-Timing and deadlines "
                "timed on their own functions. A stack's hold moves by 10-15% between rounds: these layers are too "
                "small for the holds to resolve one by one.",
                ["layer", "µs per app request", "range", "app request, all on (µs)", "µs per chain request",
                 "of the default's CPU"], rows))  # fmt: skip
        cap = c.get("capacity")
        if cap:
            rows = [[n, (r or {}).get("text", "-"), ratio_text((r or {}).get("of_floor"))] for n, r in
                    cap["rows"].items()]  # fmt: skip
            out.append(Section(f"{chain}: capacity at p99 <= {opts.get('capacity_bound_ms', 250):.0f} ms, interleaved",
                               "LoadGen, open loop, 95% intervals; of the floor: paired by round.",
                               ["chain", "capacity (QPS)", "of the floor"], rows))  # fmt: skip
    return out


def _target_lines(chain: str, cap: dict) -> list[str]:
    out = []
    for name in cap["names"][:-1]:  # the last is the floor
        if name == chain:
            label, goal = "default", TARGETS["default"]
        elif name.removeprefix(f"{chain}-walk-") in variants.LAB_LAYERS:
            label, goal = "the default without the lab's own layers", None
        else:
            label, goal = "leanest framework chain", TARGETS["lean"]
        r = (cap["rows"].get(name) or {}).get("of_floor")
        if r:
            said = "" if goal is None else f"; target {goal:.0%}: {'met' if r['ratio'] >= goal else 'NOT met'}"
            out.append(f"    {label} ({name}): {r['ratio']:.0%} of the floor's capacity ({num(r['low'], '.2f')}-"
                       f"{num(r['high'], '.2f')}x){said}")  # fmt: skip
    return out


def _kind(layer: str) -> str:
    if not layer:
        return "-"
    return "lab" if layer in variants.LAB_LAYERS else "client" if layer in variants.CLIENT_STEPS else "framework"


def _layer(opts: dict, name: str) -> str:
    return opts.get("layers", {}).get(name, name)


def plots(summary: dict[str, Any]) -> dict[str, bytes]:
    from benchmark.render.plots import waterfall

    chains = {c: v for c, v in summary["chains"].items() if v["steps"]}
    return {"waterfall.png": waterfall(chains, summary["options"], variants.LAB_LAYERS)} if chains else {}


def title(summary: dict[str, Any]) -> str:
    return "ML serving lab: where each millisecond of CPU goes (ablation)"
