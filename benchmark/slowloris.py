"""What a slowloris does to each chain, facing clients directly and behind nginx (lab/proxy.py).

    python -m benchmark.slowloris [--slow 300] [--probe-s 10] [--rounds 3]

One stack, both chains behind nginx; each handler is also reached directly at its own port, so the two deployments
differ by the proxy alone. For each chain, deployment and attack (none, or ``--slow`` connections sending their
headers a byte at a time, opened again when the server closes them: ``benchmark/slowclients.py``), LoadGen offers a
fixed open load under the chain's capacity (sync 30 QPS, async 150: the issue's) for ``--probe-s``; the figure is the
**goodput**, answers within the bound per second (``benchmark.goodput.point``, from each probe's ``queries.csv``).
The conditions run in a shuffled order in each of ``--rounds`` rounds; the summary gives each condition's median and
range over the rounds, and the attack's goodput over the same round's without it. Every probe and every slow
population is bounded in time and stops by itself; the results go to a new folder.
"""

from __future__ import annotations

import argparse
import random
import statistics
from pathlib import Path

from api_common.contract import CHAINS, predict_path
from api_common.ports import free_ports
from benchmark import goodput
from benchmark.loadgen import capacity
from benchmark.rundir import Run, manifest, new_run_dir, write_json
from benchmark.slowclients import slowloris
from benchmark.snapshot import settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control
from lab.settings import LabSettings
from lab.stack import Stack, build_stack

OFFERED = {"sync": 30.0, "async": 150.0}  # under each default chain's capacity here (about 45 and 350 QPS)
BOUND_MS = 250.0
DEPLOYMENTS = ("direct", "nginx")


def stack_on_free_ports() -> Stack:
    ports = iter(free_ports(7))
    o: dict[str, dict] = {"redis": {"port": next(ports), "entities": 1000}}
    for chain in CHAINS:
        o[f"model-{chain}"] = {"port": next(ports)}
        o[f"scoring-{chain}"] = {"port": next(ports), "app_port": next(ports), "proxy": "nginx"}
    return build_stack(o)


def where(stack: Stack, chain: str, deployment: str) -> tuple[str, int, str]:
    """Host, port and predict URL of ``chain`` as ``deployment`` serves it."""
    svc = stack.scoring(chain)
    url = svc.url if deployment == "nginx" else svc.own_url
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port), f"{url}{predict_path(chain)}"


def summarise(points: list[dict]) -> dict:
    """Each condition's goodput over the rounds, and the attack's share of the same round's goodput without it."""
    out = {}
    by: dict[tuple[str, str, bool], dict[int, float]] = {}
    for p in points:
        by.setdefault((p["chain"], p["deployment"], p["slow"] > 0), {})[p["round"]] = p["goodput_qps"]
    for chain in CHAINS:
        for dep in DEPLOYMENTS:
            calm, attacked = by.get((chain, dep, False), {}), by.get((chain, dep, True), {})
            shares = [attacked[r] / calm[r] for r in calm if r in attacked and calm[r] > 0]
            if not calm or not attacked:
                continue
            p50s = [p["served_p50_ms"] for p in points if (p["chain"], p["deployment"], p["slow"]) == (chain, dep, 0)
                    and p.get("served_p50_ms") is not None]  # fmt: skip
            out[f"{chain}-{dep}"] = {
                "offered_qps": OFFERED[chain],
                "served_p50_ms": statistics.median(p50s) if p50s else None,  # without the attack: the proxy's price
                "goodput": [statistics.median(calm.values()), min(calm.values()), max(calm.values())],
                "attacked": [statistics.median(attacked.values()), min(attacked.values()), max(attacked.values())],
                "share": [statistics.median(shares), min(shares), max(shares)] if shares else None,
            }
    return out


def run(lab: LabSettings, slow: int, probe_s: float, rounds: int, seed: int = 0, say=print) -> Path:
    stack = stack_on_free_ports()
    path = new_run_dir(lab.results_dir, "slowloris")
    options = {"kind": "slowloris", "slow": slow, "probe_s": probe_s, "rounds": rounds, "offered": OFFERED,
               "bound_ms": BOUND_MS, "seed": seed}  # fmt: skip
    run_ = Run(path, manifest({"proxied": settings_snapshot(stack)}, options))
    slab = lab.model_copy(update={"state_dir": lab.state_dir / "slowloris"})
    control.cleanup_stale(slab, say)
    order = random.Random(seed)
    points: list[dict] = []
    say(f"run folder: {path}")
    try:
        with run_.recording():
            control.up(stack, slab, log=lambda *_: None)
            verify(stack)
            warm_up(stack)
            conditions = [(c, d, n) for c in CHAINS for d in DEPLOYMENTS for n in (0, slow)]
            for r in range(1, rounds + 1):
                for chain, dep, n in order.sample(conditions, len(conditions)):
                    host, port, url = where(stack, chain, dep)
                    folder = path / "probes" / f"r{r}-{chain}-{dep}-slow{n}"
                    qps = OFFERED[chain]
                    if n:
                        with slowloris(host, port, n, probe_s + 10, reconnect=True) as pop:
                            capacity.probe(url, qps, probe_s, BOUND_MS, stack.redis.entities, folder, phase="slow")
                        held = {"opened": pop.opened, "closed_by_server": pop.closed_by_server}
                    else:
                        capacity.probe(url, qps, probe_s, BOUND_MS, stack.redis.entities, folder, phase="slow")
                        held = {}
                    sent, latency, status = goodput.queries(folder)
                    p = goodput.point(f"{chain}-{dep}", chain, dep, n, qps, BOUND_MS, sent, latency, status)
                    served = [lat for lat, st in zip(latency, status, strict=True) if st == 200]
                    points.append({"round": r, "chain": chain, "deployment": dep, "slow": n, **held,
                                   "goodput_qps": p.goodput_qps, "served_p99_ms": p.served_p99_ms,
                                   "served_p50_ms": statistics.median(served) if served else None})  # fmt: skip
                    say(f"  round {r}: {chain:5} {dep:6} slow {n:4}: goodput {p.goodput_qps:6.1f}/s of {qps:g} "
                        f"offered" + (f" ({pop.opened} slow connections opened)" if n else ""))  # fmt: skip
            write_json(path / "points.json", points)
            write_json(path / "summary.json", summarise(points))
    finally:
        control.down(slab, log=lambda *_: None)
    for name, s in summarise(points).items():
        share = s["share"]
        say(f"{name:14} p50 {s['served_p50_ms'] or float('nan'):5.1f} ms, "
            f"goodput {s['goodput'][0]:6.1f}/s ({s['goodput'][1]:.1f}-{s['goodput'][2]:.1f}); under "
            f"{slow} slow connections {s['attacked'][0]:6.1f}/s ({s['attacked'][1]:.1f}-{s['attacked'][2]:.1f}): "
            + (f"{share[0]:.0%} ({share[1]:.0%}-{share[2]:.0%})" if share else "-"))  # fmt: skip
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.slowloris", description=__doc__.split("\n\n")[0])
    p.add_argument("--slow", type=int, default=300, help="slow connections during an attack (default 300)")
    p.add_argument("--probe-s", type=float, default=10.0, help="seconds of LoadGen per condition (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of every condition (default 3)")
    args = p.parse_args(argv)
    run(LabSettings(), args.slow, args.probe_s, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
