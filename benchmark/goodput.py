"""``lab goodput``: what each overload policy gives past capacity, per chain (open loop, LoadGen).

For each variant, its chain starts with its own default policy and its capacity is found as ``lab
capacity`` finds it: the load at which the p99 meets the bound, every refusal counted as a failure, so
a policy cannot raise a capacity by refusing. Then, for each policy in a shuffled order, the chain
restarts with that policy and is offered Poisson arrivals at each multiple of that one capacity, lowest
first, for ``probe_s`` each. A probe gives:

- **goodput**: answers within the bound per second of offered load (what users get);
- **refused**: fast ``503`` answers of the policy (a client may retry them elsewhere);
- **failed**: every other non-answer (a timeout, a reset, another error);
- the **p99 of the served**, the answered requests alone.

Every figure is computed again from each probe's per-query log (``queries.csv``) when the report is
built: nothing is kept that the raw files do not hold.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from api_common.ports import free_port
from benchmark.loadgen import capacity
from benchmark.loadgen import search as loadgen_search
from benchmark.profiles import Profile
from benchmark.progress import VARIANT_START_S, Progress
from benchmark.rundir import Run, load_manifest, manifest, new_run_dir, write_json
from benchmark.snapshot import settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control, variants
from lab.ports import service_ports
from lab.settings import LabSettings
from lab.stack import Stack
from lab.variants import Variant

POLICIES = ("off", "fixed", "delay")
MULTIPLES = (0.5, 1.0, 1.5, 2.0, 3.0)
# Both default chains and the best of each (the rows): gevent workers, the aiohttp client.
DEFAULT_VARIANTS = ("sync", "async", "sync-gevent", "async-httpx")
REFUSED = 503  # under load the scoring handler's only 503 is its policy's "overloaded"


@dataclass(frozen=True)
class Point:
    """One probe: a chain, a policy and an offered load, and what came back."""

    variant: str
    chain: str
    policy: str
    multiple: float
    offered_qps: float
    seconds: float  # the span over which the queries were sent
    sent: int
    good: int  # answered within the bound
    served: int  # answered (200), in time or not
    refused: int
    failed: int
    served_p99_ms: float | None

    @property
    def goodput_qps(self) -> float:
        return self.good / self.seconds if self.seconds else 0.0

    def share(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0


def point(variant: str, chain: str, policy: str, multiple: float, offered_qps: float, bound_ms: float,
          sent_s: list[float], latency_ms: list[float], status: list[int]) -> Point:  # fmt: skip
    """A probe's figures from its per-query log (pure: tested by simulation)."""
    served = sorted(lat for lat, st in zip(latency_ms, status, strict=True) if st == 200)
    refused = sum(1 for st in status if st == REFUSED)
    # The nearest-rank p99 of the served; None with too few to have one.
    p99 = served[math.ceil(0.99 * len(served)) - 1] if len(served) >= 100 else None
    return Point(
        variant, chain, policy, multiple, offered_qps, max(sent_s, default=0.0), len(status),
        sum(1 for lat in served if lat <= bound_ms), len(served), refused, len(status) - len(served) - refused, p99,
    )  # fmt: skip


def queries(folder: Path) -> tuple[list[float], list[float], list[int]]:
    with open(folder / "queries.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [float(r["sent_s"]) for r in rows], [float(r["latency_ms"]) for r in rows], [int(r["status"]) for r in rows]


def _stack(variant: Variant, redis_port: int, policy: str | None) -> Stack:
    """``variant``'s stack on free ports beside the shared Redis, its scoring handler with ``policy`` (a variant
    that sets a policy itself keeps it: the bare floor, which has none)."""
    base = service_ports(redis_port)
    if policy is not None:
        base[f"scoring-{variant.chain}"]["admission"] = policy
    return variants.stack_for(variant, base)


def _start(stack: Stack, chain: str, lab: LabSettings) -> list:
    names = stack.chain_names(chain)
    records = control.start(stack, lab, names, log=lambda *_: None)
    verify(stack, chains=(chain,))
    warm_up(stack, chains=(chain,))
    return records


def _capacity(
    v: Variant, redis_port: int, glab: LabSettings, profile: Profile, out: Path, progress
) -> capacity.Capacity:
    """``v``'s capacity with its own policy, as ``lab capacity`` finds it (a refusal counts as a failure)."""
    stack = _stack(v, redis_port, None)
    records = _start(stack, v.chain, glab)
    try:
        return capacity.find(
            stack.scoring(v.chain).predict_url, profile.capacity_bound_ms, profile.capacity_probe_s, out,
            budget_s=profile.capacity_budget_s, entities=stack.redis.entities, progress=progress,
            rounds=profile.capacity_rounds,
        )  # fmt: skip
    finally:
        control.stop(glab, records)


def run(
    names: Iterable[str], lab: LabSettings, profile: Profile, progress: Callable[[str], None] | Progress = print,
    policies: tuple[str, ...] = POLICIES, multiples: tuple[float, ...] = MULTIPLES, probe_s: float = 10.0,
    seed: int | None = None, known: dict[str, float] | None = None, publish: Callable[[Path], object] = lambda p: p,
) -> Path:  # fmt: skip
    """Measure every variant of ``names`` under every policy; returns the run folder. ``known``: capacities already
    measured (QPS per variant), whose searches are skipped. ``publish`` builds the report from the folder, also
    when the run stops early (``benchmark.report.build.build``, which sits above this module)."""
    chosen = variants.expand(list(names))
    order = random.Random(seed)
    progress = Progress.of(progress)
    per_policy = VARIANT_START_S + len(multiples) * (probe_s + loadgen_search.PROBE_OVERHEAD_S)
    progress.plan([(v.name, (0 if known and v.name in known else loadgen_search.expected_s(profile))
                    + len(policies) * per_policy) for v in chosen])  # fmt: skip
    path = new_run_dir(lab.results_dir, "goodput")
    options = profile.as_dict() | {
        "profile": profile.name, "kind": "goodput", "variants": [v.name for v in chosen], "policies": list(policies),
        "multiples": list(multiples), "probe_s": probe_s,
    }  # fmt: skip
    redis_port = free_port()
    snapshots = {v.name: settings_snapshot(_stack(v, redis_port, None)) for v in chosen}
    run_ = Run(path, manifest(snapshots, options))
    glab = lab.model_copy(update={"state_dir": lab.state_dir / "goodput"})
    control.cleanup_stale(glab, progress)
    progress(f"run folder: {path}")
    bound = profile.capacity_bound_ms
    try:
        with run_.recording():
            control.start(_stack(chosen[0], redis_port, None), glab, ["redis"], log=lambda *_: None)
            for i, v in enumerate(chosen, 1):
                progress.begin(v.name)
                out = path / "variants" / v.name
                if v.missing():
                    progress(f"[{i}/{len(chosen)}] {v.name}: skipped, {v.missing_text()}")
                    write_json(out / "status.json", {"skipped": v.missing_text()})
                    continue
                if known and v.name in known:
                    cap_qps, status = known[v.name], {"capacity_qps": known[v.name], "given": True}
                    progress(f"[{i}/{len(chosen)}] {v.name}: capacity given, {cap_qps:.0f} QPS")
                else:
                    progress(f"[{i}/{len(chosen)}] {v.name}: capacity with its own policy")
                    cap = _capacity(v, redis_port, glab, profile, out / "capacity", progress)
                    progress(f"    {v.name} capacity: {cap.text()}")
                    cap_qps = cap.qps
                    status = {"capacity_qps": cap.qps, "capacity_low": cap.low, "capacity_high": cap.high}
                write_json(out / "status.json", status | {"chain": v.chain})
                if not cap_qps:
                    continue
                for policy in order.sample(list(policies), len(policies)):
                    stack = _stack(v, redis_port, policy)
                    records = _start(stack, v.chain, glab)
                    try:
                        for m in multiples:
                            qps = m * cap_qps
                            folder = out / policy / f"x{m:g}"
                            capacity.probe(stack.scoring(v.chain).predict_url, qps, probe_s, bound,
                                           stack.redis.entities, folder, phase="goodput")  # fmt: skip
                            p = point(v.name, v.chain, policy, m, qps, bound, *queries(folder))
                            progress(f"    {v.name} {policy:5} x{m:g} ({qps:.0f} QPS): goodput {p.goodput_qps:.1f}/s, "
                                     f"refused {p.share(p.refused):.0%}, failed {p.share(p.failed):.0%}, "
                                     f"served p99 {p.served_p99_ms or math.nan:.0f} ms")  # fmt: skip
                    finally:
                        control.stop(glab, records)
    finally:
        progress.close()
        control.down(glab, log=lambda *_: None)
        publish(path)
    return path


def summarise(run: Path) -> dict[str, Any]:
    """Every figure of a goodput run, from its raw files."""
    m = load_manifest(run)
    opts = m.get("options", {})
    bound = float(opts.get("capacity_bound_ms", 250))
    rows: list[dict] = []
    caps: dict[str, dict] = {}
    for name in opts.get("variants", []):
        folder = run / "variants" / name
        try:
            status = json.loads((folder / "status.json").read_text())
        except (OSError, ValueError):
            continue
        caps[name] = status
        for policy in opts.get("policies", []):
            for mult in opts.get("multiples", []):
                probe = folder / policy / f"x{mult:g}"
                if not (probe / "queries.csv").exists():
                    continue
                p = point(name, status.get("chain", ""), policy, mult, mult * status["capacity_qps"], bound,
                          *queries(probe))  # fmt: skip
                rows.append(asdict(p) | {"goodput_qps": p.goodput_qps})
    return {"kind": "goodput", "options": opts, "bound_ms": bound, "capacity": caps, "points": rows}


def verdicts(summary: dict) -> list[str]:
    """For each variant: does ``delay`` keep 90% of capacity as goodput at 2x and 3x, served p99 under the bound?"""
    out = []
    for name, cap in summary["capacity"].items():
        if not cap.get("capacity_qps"):
            out.append(f"{name}: {cap.get('skipped', 'no capacity found')}")
            continue
        pts = [p for p in summary["points"] if p["variant"] == name and p["policy"] == "delay" and p["multiple"] >= 2]
        if not pts:
            continue
        parts = []
        for p in pts:
            share = p["goodput_qps"] / cap["capacity_qps"]
            tail = p["served_p99_ms"]
            ok = share >= 0.9 and tail is not None and tail <= summary["bound_ms"]
            met = "met" if ok else "NOT met"
            parts.append(f"x{p['multiple']:g}: {share:.0%} of capacity, served p99 {_ms(tail)} ({met})")
        source = "given, not measured in this run" if cap.get("given") else "measured"
        out.append(f"{name} (capacity {cap['capacity_qps']:.0f} QPS, {source}), delay: " + "; ".join(parts))
    return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def sections(summary: dict) -> list:
    from benchmark.render.tables import Section

    rows = []
    for p in summary["points"]:
        rows.append([p["variant"], p["policy"], f"x{p['multiple']:g}", f"{p['offered_qps']:.0f}",
                     f"{p['goodput_qps']:.1f}", f"{p['refused'] / p['sent']:.0%}" if p["sent"] else "-",
                     f"{p['failed'] / p['sent']:.0%}" if p["sent"] else "-", _ms(p["served_p99_ms"]),
                     str(p["sent"])])  # fmt: skip
    text = "\n".join(
        [f"Goodput past capacity: answers within {summary['bound_ms']:.0f} ms per second, per policy.",
         "Target: with delay, at 2x and 3x capacity, goodput >= 90% of capacity and served p99 under the bound.",
         *verdicts(summary)]
    )  # fmt: skip
    return [
        Section("Goodput past capacity", text, [], [], verdict=True, image="goodput.png"),
        Section(
            "Goodput, probe by probe",
            "Capacity: found once per chain with its own policy, refusals counted as failures. Each probe offers "
            "Poisson arrivals at a multiple of it; goodput counts answers within the bound per second; refused: "
            "the policy's fast 503; failed: any other non-answer; served p99: the answered requests alone.",
            ["variant", "policy", "load", "offered QPS", "goodput /s", "refused", "failed", "served p99", "queries"],
            rows,
        ),
    ]


def plots(summary: dict) -> dict[str, bytes]:
    from benchmark.render import plots as p

    if not summary["points"]:
        return {}
    return {"goodput.png": p.goodput(summary)}
