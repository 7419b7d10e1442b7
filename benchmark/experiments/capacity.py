"""Experiment 4: each chain's capacity at a p99 bound, with its interval (MLPerf LoadGen, open loop)."""

from __future__ import annotations

import os

from api_common.contract import CHAINS
from benchmark import costmodel, endpoint
from benchmark.experiments import Context, Experiment, Option
from benchmark.loadgen import capacity, history, search
from benchmark.render.tables import Section, headline, num
from benchmark.snapshot import chain_processes
from lab import processes
from lab.control import state_file

TRANSFER = Option(
    "transfer_cores",
    str,
    "4,8,16",
    "4,8,16",
    "the machines' core counts the report predicts each "
    "default chain's capacity on, from its measured costs (benchmark/costmodel.py)",
)
OPTIONS = ("capacity_bound_ms", "capacity_probe_s", "capacity_rounds", "capacity_budget_s", "capacity_pin", TRANSFER)


def find(ctx: Context) -> dict[str, capacity.Capacity]:
    """Experiment 4 for both chains at once: the load at which p99 meets the bound, with its interval.

    The two searches run interleaved, round by round (``capacity.interleaved``), as ``lab compare`` runs its
    variants: each chain's probes then spread over the whole run, so a drift of a shared machine over minutes
    hits both chains alike, each chain's figure rests on more of the machine's states than a search run alone in
    half the time, and the ratio pairs the two chains by round.
    """
    stack, lab, profile, progress = ctx.stack, ctx.lab, ctx.profile, ctx.progress
    cores = sorted(os.sched_getaffinity(0))
    pin = profile.capacity_pin and len(cores) > 1 and not any(stack.remote(c) for c in CHAINS)
    client_cpus, chain_cpus = ({cores[-1]}, set(cores[:-1])) if pin else (None, None)
    searches = {chain: _search(ctx, chain, client_cpus) for chain in CHAINS}
    progress(f"    loadgen: capacity at p99 <= {profile.capacity_bound_ms:.0f} ms, {' and '.join(CHAINS)} interleaved")
    records = state_file(lab).read()
    mine = [r for r in records if any(r.name in chain_processes(stack, chain) for chain in CHAINS)]
    if chain_cpus:
        threads = processes.pin(mine, chain_cpus)
        progress(f"    pinned: LoadGen on core {cores[-1]}, {threads} threads of the chains on the others")
    try:
        found = capacity.interleaved(searches, on_left=ctx.progress.left)
    finally:
        if chain_cpus:
            processes.pin(mine, set(cores))
    for chain, cap in found.items():
        progress(f"    {chain} capacity: {cap.text()}")
    return found


def _search(ctx: Context, chain: str, client_cpus: set[int] | None) -> capacity.Search:
    profile = ctx.profile
    return capacity.Search(
        ctx.stack.scoring(chain).predict_url, profile.capacity_bound_ms, profile.capacity_probe_s,
        ctx.path / "loadgen" / chain, budget_s=profile.capacity_budget_s, entities=ctx.stack.redis.entities,
        progress=ctx.progress, label=f"{chain} ", client_cpus=client_cpus, rounds=profile.capacity_rounds,
        meter=_meter(ctx, chain),
    )  # fmt: skip


def _meter(ctx: Context, chain: str):
    """The CPU seconds of the chain's processes so far (Redis's included: probes run one at a time, so what it spends
    during one is that chain's); None for a chain the lab did not start."""
    names = chain_processes(ctx.stack, chain)
    if not names:
        return None
    return lambda: processes.cpu_seconds([r for r in state_file(ctx.lab).read() if r.name in names])


def run(ctx: Context) -> dict:
    found = find(ctx)
    history.record(ctx.path)  # the headline sets the earlier runs' figures beside these
    # The lower end of the interval: a load the chain sustains under the bound with confidence.
    ctx.found["sustainable"] = {chain: cap.low or cap.qps or None for chain, cap in found.items()}
    return {"capacity_qps": {chain: [cap.qps, cap.low, cap.high] for chain, cap in found.items()}}


def _settings_at(tier: str, chain: str, tier_snapshot: dict, cores: int):
    """A tier's settings as they would be on ``cores`` cores: its own counts, its server's defaults at that size."""
    from api_common.servers import on_cores
    from api_model.settings import ModelAsyncSettings, ModelSyncSettings
    from api_scoring.settings import ScoringAsyncSettings, ScoringSyncSettings

    classes = {("scoring", "sync"): ScoringSyncSettings, ("scoring", "async"): ScoringAsyncSettings,
               ("model", "sync"): ModelSyncSettings, ("model", "async"): ModelAsyncSettings}  # fmt: skip
    cls = classes[(tier, chain)]
    fields = {k: v for k, v in tier_snapshot.items() if k in cls.model_fields}
    with on_cores(cores):
        made = cls.model_construct(**fields)  # no validation: the run validated them, a model server may be absent
        return made.worker_count(), made.concurrency()


def transfer(summary: dict, manifest: dict) -> dict | None:
    """Each default chain's capacity predicted by the cost model on the machines of ``transfer_cores`` cores, from
    its costs measured here (a single request's median latency, CPU per request over the capacity probes under the
    bound: both tiers and Redis), and its settings as they would be there (the servers' defaults: gunicorn's sync
    workers 2 x cores + 1, one uvicorn worker per core); and on this machine's cores, beside what was measured."""
    text = str(manifest.get("options", {}).get("transfer_cores", "") or "")
    settings = manifest.get("settings", {})
    here = manifest.get("cpu_count") or 2
    rows = {}
    for chain in CHAINS:
        c = summary.get("chains", {}).get(chain, {})
        cpu, latency = c.get("capacity_cpu_ms_per_request"), c.get("single_p50_ms")
        scoring, model = settings.get(f"scoring-{chain}", {}), settings.get(f"model-{chain}", {})
        if not (cpu and latency and scoring and model):
            continue
        rows[chain] = []
        for cores in [here, *(int(x) for x in text.split(",") if x.strip())]:
            workers, concurrency = _settings_at("scoring", chain, scoring, cores)
            model_workers, model_concurrency = _settings_at("model", chain, model, cores)
            n = scoring.get("n_models", 2)
            sequential = scoring.get("fanout") == "sequential"
            costs = costmodel.Costs(
                latency_ms=latency, cpu_ms=cpu, concurrency=concurrency, latency_scv=0.0,
                tiers=((workers, cpu), (model_workers, cpu)),  # each tier's share unknown here: at most all of it
                # The model tier's slots queue only when fewer than the calls the scoring slots can make at once.
                more_slots=((model_concurrency, latency / n if sequential else latency, float(n)),)
                if model_concurrency and concurrency and model_concurrency < concurrency * (1 if sequential else n)
                else (),
            )  # fmt: skip
            p = costmodel.capacity(costs, cores, summary.get("capacity_bound_ms", 250.0))
            rows[chain].append({"cores": cores, "qps": p.qps, "bound_by": p.bound_by, "workers": workers,
                                "cpu_ms": cpu, "latency_ms": latency})  # fmt: skip
    return {"here": here, "rows": rows} if rows else None


def sections(summary: dict) -> list[Section]:
    return [s for s in (_rounds(summary), _transfer(summary), _probes(summary)) if s is not None]


def _transfer(summary: dict) -> Section | None:
    t = summary.get("transfer")
    if not t or set(t["rows"]) != set(CHAINS):
        return None
    here = t["here"]
    rows = []
    for s, a in zip(t["rows"]["sync"], t["rows"]["async"], strict=True):
        c = s["cores"]
        measured = ""
        if c == here:
            chains = summary["chains"]
            measured = " (measured here: " + " / ".join(num(chains[ch].get("capacity_qps"), ".0f") for ch in
                                                         ("sync", "async")) + ")"  # fmt: skip
        rows.append([f"{c}" + (" (this machine)" if c == here else ""), f"{s['qps']:.0f} ({s['bound_by']}, "
                     f"{s['workers']} workers)", f"{a['qps']:.0f} ({a['bound_by']}, {a['workers']} workers)",
                     f"{a['qps'] / s['qps']:.1f}x" if s["qps"] else "-", measured or "-"])  # fmt: skip
    first, afirst = t["rows"]["sync"][0], t["rows"]["async"][0]
    return Section(
        "On a machine with C cores (predicted, not measured)",
        "The cost model (benchmark/costmodel.py; its check against measured capacity, lab costmodel, held for 4 of 12, "
        "then 6-9 of 14 configurations in five runs on 2026-12-05, short of 12 of 14: doc/FINDINGS.md) "
        "carries this run's measured costs to machines of other sizes: sync "
        f"{first['latency_ms']:.0f} ms a request and {first['cpu_ms']:.2f} ms CPU, async {afirst['latency_ms']:.0f} ms "
        f"and {afirst['cpu_ms']:.2f} ms CPU (both tiers and Redis, over the capacity probes), each chain's servers "
        "at their defaults there. The sync chain is bound by its workers (Little's law with queueing), which its "
        "server's default sizes by the cores, the async chain by CPU. The headline stays the measured ratio; these "
        "figures are predictions, and leave out what one machine cannot show (Redis as one process, memory, the "
        "network).",
        ["cores", "sync QPS (bound, workers)", "async QPS (bound, workers)", "async / sync", "measured"],
        rows,
    )


def _rounds(summary: dict) -> Section | None:
    """Each round: every chain's figure in it, the ratio's, and the machine then."""
    found = {ch: {r["round"]: r for r in summary["chains"].get(ch, {}).get("capacity_rounds_found") or []}
             for ch in CHAINS}  # fmt: skip
    rounds = sorted(set().union(*found.values()))
    if not rounds:
        return None
    rows = []
    for r in rounds:
        cells = [f"{f['side']}{num(f['qps'], '.0f')}" if (f := found[ch].get(r)) else "-" for ch in CHAINS]
        a, s = found["async"].get(r), found["sync"].get(r)
        ratio = num(a["qps"] / s["qps"], ".2f") + "x" if a and s and not a["side"] and not s["side"] else "-"
        machine = [f"{num(f.get('steal_pct'), '.0f')} / {num(f.get('speed_ms'), '.2f')}" if (f := found[ch].get(r))
                   else "-" for ch in CHAINS]  # fmt: skip
        rows.append([str(r), *cells, ratio, *machine])
    return Section(
        "Rounds: each chain's figure in each round, and the machine then",
        "Every round ran both chains' probes interleaved in a shuffled order, so within a round both saw the same "
        "machine. A round's figure is where its own probes cross the bound (>= its highest load when they all "
        "passed, <= its lowest when they all failed); the headline's estimate and intervals pool every round (a "
        "two-level bootstrap: rounds, then probes). Machine: the median over the round's probes of the share of the "
        "machine the hypervisor took (steal %) and the time of a fixed unit of work (ms; higher is slower).",
        ["round", *(f"{ch} QPS" for ch in CHAINS), "async / sync", *(f"{ch}: steal % / speed ms" for ch in CHAINS)],
        rows,
    )  # fmt: skip


def _probes(summary: dict) -> Section | None:
    rows = []
    for chain, probes in summary.get("probes", {}).items():
        for p in probes:
            p99 = f"{num(p['p99_ms'], '.0f')} ({num(p.get('p99_low_ms'), '.0f')}-{num(p.get('p99_high_ms'), '.0f')})"
            machine = f"{num(p.get('machine_busy_pct'), '.0f')} / {num(p.get('machine_steal_pct'), '.0f')}"
            speed = num(p.get("speed_ms"), ".2f")
            rows.append([chain, p.get("phase", "-"), num(p["target_qps"], ".1f"), num(p.get("duration_s"), "g"),
                         str(p.get("queries", "-")), p99, str(p.get("over", "-")), str(p["errors"]),
                         "yes" if p.get("queue_building") else "no", str(p.get("early_stopping") or "-"),
                         p.get("verdict", "-"), machine, speed])  # fmt: skip
    if not rows:
        return None
    return Section(
        "LoadGen probes, one by one",
        "Each probe offers Poisson arrivals at its target for its duration. p99 with its 95% order-statistic "
        "interval (open above when the probe is too short to bound it); 'over': queries over the bound or failed; "
        "early stopping: LoadGen's 99%-confidence verdict that the p99 is under the bound; verdict: pass or fail "
        "with 99% confidence, else unsure. Machine: percent of all cores' time busy, and stolen by the hypervisor "
        "for other tenants of a shared machine; speed: the median time of one fixed unit of pure-Python work "
        "during the probe (higher is slower; on a shared machine it varies, and a chain bound by CPU moves with "
        "it).",
        ["chain", "phase", "target QPS", "s", "queries", "p99 ms (95%)", "over", "errors", "queue building",
         "early stopping", "verdict", "machine busy / stolen %", "speed ms"],
        rows,
        fold=True,
    )  # fmt: skip


def make_plots(summary: dict) -> dict[str, bytes]:
    from benchmark.render import plots  # matplotlib: only when a report is built

    if not summary.get("probes"):
        return {}
    return {"capacity_curve.png": plots.capacity_curve(summary["probes"], summary["chains"],
                                                       summary["capacity_bound_ms"])}  # fmt: skip


EXPERIMENT = Experiment(
    "capacity", 3, "capacity at a latency bound (LoadGen, open loop)",
    "experiment 4: capacity at the p99 bound per chain (LoadGen, open loop)", OPTIONS, run, sections, make_plots,
    console=lambda summary: headline(summary), expected_s=lambda profile: len(CHAINS) * search.expected_s(profile),
    endpoint=endpoint.run,
)  # fmt: skip
