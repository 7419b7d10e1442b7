"""``lab costmodel``: the cost model (benchmark/costmodel.py) checked against measured capacity.

Each configuration is a chain with a given number of worker processes in both tiers, pinned to 1 or 2 cores
(``os.sched_setaffinity`` on every thread of its processes and of the shared Redis). On 1 core, LoadGen runs on the
other core; on 2 cores it shares the chain's cores (this machine has two), and its own CPU per request is then one
of the model's inputs. For each configuration, first what the model needs, none of it a capacity search: a single
request's latency (sequential requests, their median and spread), and CPU per request (LoadGen holds; each tier's
processes and Redis apart, from /proc). CPU per request is first measured at a low load; where the cores bind, it is
measured again at ``REFINE_SHARE`` of the capacity so predicted, until the prediction settles (an event loop's CPU
per request falls as its load rises: 4.7 ms at 30 a second, 2.9 at 260 for async-c1-w4 on 2026-12-05, as each turn
of the loop serves more requests). No hold judges a latency bound: the load comes from the model, the figure is CPU
time. Both predictions are reported. Then the model's prediction, and then the
capacity at the p99 bound, searched for every configuration, interleaved round by round as ``lab compare`` does,
each search starting near its prediction. A prediction holds when it lies within the measured capacity's 95%
interval or within ``TOLERANCE`` of its estimate (issue 35). The chains run with their overload policy off
(``ADMISSION``): it refuses requests below the capacity the model predicts, which is a policy's choice, not a cost.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from api_common.contract import SAMPLE
from api_common.ports import free_port
from benchmark import costmodel
from benchmark.loadgen import capacity, probing
from benchmark.loadgen import search as loadgen_search
from benchmark.profiles import Profile
from benchmark.progress import Progress
from benchmark.render.tables import Section, num
from benchmark.rundir import Run, load_manifest, manifest, new_run_dir, write_json
from benchmark.snapshot import settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control, processes, variants
from lab.ports import service_ports
from lab.settings import LabSettings
from lab.stack import Stack
from lab.variants import Variant

TOLERANCE = 0.15
SYNC_WORKERS = (1, 2, 5, 9)
ASYNC_WORKERS = (1, 2, 4)
CORES = (1, 2)
SEQUENTIAL = 40  # single requests, one after the other, for the latency
HOLD_S = 10.0
ASYNC_HOLD_QPS = 30.0  # low for every async configuration here (1 worker on 1 core serves about 100)
SYNC_HOLD_SHARE = 0.3  # of Little's law's bound (workers / latency): the sync hold's load
REFINE_SHARE = 0.8  # of the latest predicted capacity: the load of a hold that measures CPU where the cores bind
REFINE_HOLDS = 3  # at most, after the low load's
SETTLED = 0.05  # the refinement stops when a prediction moves less than this
# The chains are checked with the scoring tier's overload policy off (the model tier has none): the model predicts
# the queue, and a probe with one refusal fails. The ``delay`` policy refuses before the queue's p99 reaches the
# bound, the more so the fewer the workers: on 2026-12-05 (20261205T190441Z-costmodel) sync-c1-w1 was refused 2 of
# 64 requests at 3 QPS (0.3 of its workers busy; half of the few delays in a 500 ms interval over the target is
# chance there), and async-c2-w1 196 of 5,733 at 573 QPS, where the model put its capacity at 716 (measured: 460).
# What the policy costs a default chain is the ablation's figure (lab ablation, its "admission" step).
ADMISSION = {"admission": "off"}


@dataclass(frozen=True)
class Config:
    chain: str
    cores: int
    workers: int

    @property
    def name(self) -> str:
        return f"{self.chain}-c{self.cores}-w{self.workers}"

    def variant(self) -> Variant:
        both = {"workers": self.workers}
        return Variant(self.name, self.chain, f"{self.chain} default, {self.workers} workers a tier, its overload "
                       f"policy off, on {self.cores} core(s)", model=dict(both),
                       scoring={**both, **ADMISSION})  # fmt: skip


def configs(chains: tuple[str, ...] = ("sync", "async"), cores: tuple[int, ...] = CORES) -> list[Config]:
    counts = {"sync": SYNC_WORKERS, "async": ASYNC_WORKERS}
    return [Config(chain, c, w) for c in cores for chain in chains for w in counts[chain]]


def probe_window(probe_s: float, budget_s: float) -> Callable[[float], int]:
    """How many queries a refinement probe of the capacity search runs at a rate (benchmark/loadgen/search.py)."""
    return lambda qps: max(1, round(qps * loadgen_search.probe_seconds(qps, "refine", probe_s, budget_s)))


def predict(inputs: dict[str, Any], cores: int, bound_ms: float, window: Callable[[float], int] | None = None,
            busy: bool = True) -> costmodel.Prediction:  # fmt: skip
    """The model's capacity from one configuration's measured inputs (``measure_inputs``): their CPU per request at
    the last hold's load; ``inputs["low"]`` holds the low load's, for the prediction from it alone. With ``window``:
    as the capacity search's probes of that many queries measure it (``costmodel.capacity``). The cores' queue is
    served at the cores' busy time per request where it was measured (``busy``), else at the processes' CPU time
    (and LoadGen's where it shares the cores): the first counts what the second leaves out, the kernel's network
    work in softirq and its threads. Near capacity they differ little (async-c2-w1 at 637 QPS on 2026-12-05: 2.20
    ms against 2.11, 4%; it was over-predicted by 41-47% either way: doc/FINDINGS.md); at a low load the busy time
    also carries the cores' idle work (the other configurations' processes: 7.88 ms against 5.15, LoadGen's
    counted, at 30 QPS)."""
    sync = inputs["chain"] == "sync"
    cores_ms = inputs.get("cores_cpu_ms") if busy else None
    costs = costmodel.Costs(
        latency_ms=inputs["latency_ms"],
        cpu_ms=cores_ms or inputs["cpu_ms"],
        concurrency=inputs["workers"] * inputs["threads"] if sync else None,
        latency_scv=inputs["latency_scv"],
        tiers=((inputs["workers"], inputs["scoring_cpu_ms"]), (inputs["workers"], inputs["model_cpu_ms"]),
               (1, inputs["redis_cpu_ms"])),  # Redis: one process
        # The sync model tier's workers are held for each model call, one call after the other (half the latency);
        # they queue only when fewer than the scoring workers that call them (here, as many: they never do).
        more_slots=(),
        client_cpu_ms=inputs["client_cpu_ms"] if inputs["client_shares_cores"] and not cores_ms else 0.0,
    )  # fmt: skip
    return costmodel.capacity(costs, cores, bound_ms, window=window)


def holds(prediction: float, measured: capacity.Capacity | None) -> bool | None:
    """Within the measured 95% interval, or within ``TOLERANCE`` of the measured estimate."""
    if measured is None or not measured.qps:
        return None
    inside = measured.low is not None and measured.high is not None and measured.low <= prediction <= measured.high
    return inside or abs(prediction - measured.qps) <= TOLERANCE * measured.qps


def _latency(url: str) -> tuple[float, float]:
    """The median and squared coefficient of variation of single requests' latency, in ms."""
    times = []
    with httpx.Client(timeout=10.0) as client:
        for _ in range(SEQUENTIAL):
            t0 = time.perf_counter()
            client.post(url, json={"entity_id": "0", "features": SAMPLE}).raise_for_status()
            times.append(1000 * (time.perf_counter() - t0))
    mean = statistics.fmean(times)
    return statistics.median(times), statistics.pvariance(times) / mean**2


def _cpu_hold(url: str, qps: float, tiers: dict[str, list], stack: Stack, folder: Path, bound_ms: float,
              client_cpus: set[int] | None, chain_cpus: set[int]) -> dict[str, Any]:  # fmt: skip
    """CPU per request over one LoadGen hold at ``qps``: each tier's processes and Redis, LoadGen's own, and the
    chain's cores' busy time, whoever spent it (``cores_cpu_ms``)."""
    probing.settle(url, bound_ms)
    before = {t: processes.cpu_seconds(recs) for t, recs in tiers.items()}
    busy = processes.cores_busy_seconds(chain_cpus)
    p = probing.probe(url, qps, HOLD_S, bound_ms, stack.redis.entities, folder, cpus=client_cpus)
    busy = processes.cores_busy_seconds(chain_cpus) - busy
    spent = {t: processes.cpu_seconds(recs) - before[t] for t, recs in tiers.items()}
    per = {t: 1000 * s / p.queries if p.queries else None for t, s in spent.items()}
    client = (p.client_cpu_pct or 0) / 100 * p.duration_s * 1000 / p.queries if p.queries else 0.0
    return {"hold_qps": qps, "hold_queries": p.queries, "hold_errors": p.errors, "hold_p99_ms": p.p99_ms,
            "cpu_ms": sum(v for v in per.values() if v), "scoring_cpu_ms": per["scoring"],
            "model_cpu_ms": per["model"], "redis_cpu_ms": per["redis"], "client_cpu_ms": client,
            "cores_cpu_ms": 1000 * busy / p.queries if p.queries else None}  # fmt: skip


def measure_inputs(cfg: Config, stack: Stack, records: list, redis: list, path: Path, bound_ms: float,
                   client_cpus: set[int] | None, chain_cpus: set[int]) -> dict[str, Any]:  # fmt: skip
    """What the model needs of one running configuration: its latency, and CPU per request at a low load, then,
    where the cores bind, at ``REFINE_SHARE`` of the capacity predicted until the prediction settles."""
    url = stack.scoring(cfg.chain).predict_url
    scoring_settings = stack.scoring(cfg.chain).settings
    latency_ms, scv = _latency(url)
    sync = cfg.chain == "sync"
    threads = scoring_settings.threads if sync else 1
    qps = SYNC_HOLD_SHARE * cfg.workers * threads * 1000 / latency_ms if sync else ASYNC_HOLD_QPS
    tiers = {"scoring": [r for r in records if r.name.startswith("scoring")],
             "model": [r for r in records if r.name.startswith("model")], "redis": redis}  # fmt: skip
    base = {"chain": cfg.chain, "cores": cfg.cores, "workers": cfg.workers, "threads": threads,
            "n_models": scoring_settings.n_models, "latency_ms": latency_ms, "latency_scv": scv,
            "client_shares_cores": client_cpus is None}  # fmt: skip
    folder = path / "inputs" / cfg.name
    inputs = base | _cpu_hold(url, qps, tiers, stack, folder / "hold-0", bound_ms, client_cpus, chain_cpus)
    inputs["low"] = {k: v for k, v in inputs.items() if k not in base}
    inputs["refined"] = []
    prediction = predict(inputs, cfg.cores, bound_ms)
    for i in range(1, REFINE_HOLDS + 1):
        if prediction.bound_by == "slots":
            break  # the CPU figure does not decide: no need to measure it where the cores would bind
        held = _cpu_hold(url, REFINE_SHARE * prediction.qps, tiers, stack, folder / f"hold-{i}", bound_ms,
                         client_cpus, chain_cpus)  # fmt: skip
        clean = held["hold_queries"] and held["hold_errors"] <= 0.01 * held["hold_queries"] and (
            held["hold_p99_ms"] is not None and held["hold_p99_ms"] <= bound_ms)  # fmt: skip
        inputs["refined"].append(held | {"used": bool(clean)})
        if not clean:
            break  # past what the chain serves: its CPU figure is no longer one of a served load
        inputs |= held
        before, prediction = prediction, predict(inputs, cfg.cores, bound_ms)
        if abs(prediction.qps - before.qps) <= SETTLED * before.qps:
            break
    return inputs


def run(chosen: list[Config], lab: LabSettings, profile: Profile, progress: Callable[[str], None] | Progress = print
        ) -> Path:  # fmt: skip
    from benchmark.report.build import build

    machine = sorted(os.sched_getaffinity(0))
    path = new_run_dir(lab.results_dir, "costmodel")
    redis_port = free_port()
    stacks = {c.name: variants.stack_for(c.variant(), service_ports(redis_port)) for c in chosen}
    options = profile.as_dict() | {"profile": profile.name, "kind": "costmodel", "machine_cores": machine,
                                   "configs": [asdict(c) for c in chosen], "tolerance": TOLERANCE}  # fmt: skip
    run_ = Run(path, manifest({n: settings_snapshot(s) for n, s in stacks.items()}, options))
    clab = lab.model_copy(update={"state_dir": lab.state_dir / "costmodel"})
    control.cleanup_stale(clab, progress)
    progress(f"run folder: {path}")
    bound = profile.capacity_bound_ms
    try:
        with run_.recording():
            redis = control.start(stacks[chosen[0].name], clab, ["redis"], log=lambda *_: None)
            processes.pin(redis, {machine[0]})
            searches, client_of = {}, {}
            for i, cfg in enumerate(chosen, 1):
                stack = stacks[cfg.name]
                progress(f"[{i}/{len(chosen)}] {cfg.name}: start, pin, measure the inputs")
                records = control.start(stack, clab, stack.chain_names(cfg.chain), log=lambda *_: None,
                                        instance=cfg.name)  # fmt: skip
                chain_cpus = set(machine[: cfg.cores])
                processes.pin(records, chain_cpus)
                # LoadGen on a core of its own where one is left; else on the chain's (stated in the report)
                client_of[cfg.name] = {machine[-1]} if len(machine) > cfg.cores else None
                verify(stack, chains=(cfg.chain,))
                warm_up(stack, chains=(cfg.chain,))
                inputs = measure_inputs(cfg, stack, records, redis, path, bound, client_of[cfg.name], chain_cpus)
                p = predict(inputs, cfg.cores, bound)
                write_json(path / "configs" / cfg.name / "inputs.json", inputs | {"predicted": asdict(p)})
                progress(f"    {inputs['latency_ms']:.0f} ms a request, {inputs['cpu_ms']:.2f} ms CPU: predicted "
                         f"{p.qps:.0f} QPS ({p.bound_by})")  # fmt: skip
                searches[cfg.name] = capacity.Search(
                    stack.scoring(cfg.chain).predict_url, bound, profile.capacity_probe_s,
                    path / "loadgen" / cfg.name, budget_s=profile.capacity_budget_s, start_qps=max(1.0, 0.8 * p.qps),
                    entities=stack.redis.entities, progress=progress, label=f"{cfg.name} ",
                    client_cpus=client_of[cfg.name], rounds=profile.capacity_rounds,
                )  # fmt: skip
            progress(f"capacity at p99 <= {bound:.0f} ms: {len(searches)} searches interleaved")
            for name, cap in capacity.interleaved(searches).items():
                progress(f"    {name}: {cap.text()}")
    finally:
        control.down(clab, log=lambda *_: None)
        build(path)
    return path


def summarise(run: Path) -> dict[str, Any]:
    opts = load_manifest(run).get("options", {})
    rows = []
    for c in opts.get("configs", []):
        cfg = Config(**c)
        found = run / "configs" / cfg.name / "inputs.json"
        if not found.exists():
            continue
        inputs = json.loads(found.read_text())
        measured = capacity.load(run / "loadgen" / cfg.name)
        # Predicted again from the measured inputs: the report is rebuilt from raw files, with the model as it is.
        bound = opts.get("capacity_bound_ms", 250.0)
        window = probe_window(opts.get("capacity_probe_s", 4.0), opts.get("capacity_budget_s", 300.0))
        predicted = asdict(predict(inputs, cfg.cores, bound, window))  # what the search's probes measure: judged
        predicted["long_qps"] = predict(inputs, cfg.cores, bound).qps  # over a long run: the model's own figure
        # From the processes' CPU time alone (the only figure before 2026-12-05's fourth run)
        predicted["procs_qps"] = predict(inputs, cfg.cores, bound, window, busy=False).qps
        low = inputs | inputs["low"] if "low" in inputs else inputs  # runs before the refinement: the same figure
        predicted["low_qps"] = predict(low, cfg.cores, bound, window).qps
        rows.append({"name": cfg.name, **asdict(cfg), "inputs": inputs, "predicted": predicted,
                     "measured": {"qps": measured.qps, "low": measured.low, "high": measured.high,
                                  "text": measured.text()} if measured else None,
                     "error": predicted["qps"] / measured.qps - 1 if measured and measured.qps else None,
                     "holds": holds(predicted["qps"], measured),
                     "low_holds": holds(predicted["low_qps"], measured)})  # fmt: skip
    judged = [r for r in rows if r["holds"] is not None]
    return {"kind": "costmodel", "options": opts, "rows": rows, "held": sum(r["holds"] for r in judged),
            "judged": len(judged), "low_held": sum(bool(r["low_holds"]) for r in judged)}  # fmt: skip


def sections(summary: dict[str, Any]) -> list[Section]:
    rows, tol = summary["rows"], summary["options"].get("tolerance", TOLERANCE)
    misses = [f"{r['name']} (predicted {r['predicted']['qps']:.0f}, measured {r['measured']['text']})"
              for r in rows if r["holds"] is False]  # fmt: skip
    text = (f"{summary['held']} of {summary['judged']} predictions within the measured 95% interval or within "
            f"{tol:.0%} of the measured capacity" + (f"; missed: {', '.join(misses)}" if misses else "") + ".\n"
            "The model's inputs need no capacity search: a single request's latency, CPU per request (at a low load, "
            "then where the cores bind, at a load the model gives), the worker counts and the cores. From CPU per "
            f"request at the low load alone: {summary.get('low_held', 0)} of {summary['judged']}.")  # fmt: skip
    table = []
    for r in rows:
        i, low = r["inputs"], r["inputs"].get("low", r["inputs"])
        table.append([
            r["name"], num(i["latency_ms"]),
            f"{num(low['cpu_ms'], '.2f')} at {low['hold_qps']:.0f}/s" + (
                f", {num(i['cpu_ms'], '.2f')} at {i['hold_qps']:.0f}/s" if i["hold_qps"] != low["hold_qps"] else ""),
            f"{num(i['scoring_cpu_ms'], '.2f')} / {num(i['model_cpu_ms'], '.2f')} / {num(i['redis_cpu_ms'], '.2f')}",
            num(i["client_cpu_ms"], ".2f") + ("" if i["client_shares_cores"] else " (own core)"),
            num(i.get("cores_cpu_ms"), ".2f"),
            f"{r['predicted']['low_qps']:.0f}", f"{r['predicted']['qps']:.0f} ({r['predicted']['bound_by']}"
            + (f"; long run {r['predicted']['long_qps']:.0f}" if "long_qps" in r["predicted"] else "")
            + (f"; processes' CPU alone {r['predicted']['procs_qps']:.0f}" if i.get("cores_cpu_ms") else "") + ")",
            (r["measured"] or {}).get("text", "-"), f"{r['error']:+.0%}" if r["error"] is not None else "-",
            {True: "yes", False: "NO", None: "-"}[r["holds"]],
        ])  # fmt: skip
    return [
        Section("Does the cost model predict capacity?", text, verdict=True),
        Section(f"Predicted against measured, p99 <= {summary['options'].get('capacity_bound_ms', 250):.0f} ms",
                "Each configuration: its workers in both tiers, pinned to its cores. Latency: the median of "
                f"{SEQUENTIAL} single requests. CPU per request, both tiers and Redis, over a hold at a low load, and "
                f"where the cores bind over holds at {REFINE_SHARE:.0%} of the capacity then predicted (the last "
                "hold's split: scoring / model / Redis); the load generator's own CPU per request, counted when it "
                "shares the chain's cores; the chain's cores' busy time per request, whoever spent it (the kernel's "
                "network work too: where measured, the cores' queue is served at it). Predicted: from the low load's "
                "CPU alone, and from the last hold's, as a "
                "probe of the search's length from an idle chain sees it (and over a long run), with "
                "what binds (slots: Little's law with queueing; cores; tier: one tier's processes). Measured: "
                "LoadGen, open loop, interleaved, 95% interval.",
                ["configuration", "latency ms", "CPU ms / request at a load", "scoring / model / Redis",
                 "client CPU ms", "cores busy ms", "predicted from low load", "predicted QPS", "measured QPS", "error",
                 "holds"],
                table),
    ]  # fmt: skip


def plots(summary: dict[str, Any]) -> dict[str, bytes]:
    return {}


def title(summary: dict[str, Any]) -> str:
    return "ML serving lab: the cost model against measured capacity"
