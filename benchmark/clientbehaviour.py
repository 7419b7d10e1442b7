"""What slow clients cost each server of the two chains, facing clients directly and behind nginx.

    lab slowclients [--servers sync,sync-gthread,...] [--sizes 10,50,200] [--probe-s 6]   (make slowclients)

For each server (a variant of the registry: gunicorn sync workers, gthread, gevent, meinheld, waitress and granian
for the sync chain; uvicorn for the async one), one stack with nginx in front of its scoring handler, which is also
reached directly at its own port: the two deployments differ by the proxy alone. In each condition LoadGen offers the
fast clients a fixed open load under the chain's capacity (sync 30 QPS, async 150, as ``benchmark.slowloris``) for
``--probe-s`` while a bounded population of slow clients (``benchmark/slowclients.py``) holds 0, 10, 50 or 200
connections: ``headers`` (a slowloris: headers a byte every 0.5 s, never finished), ``upload`` (a whole request
whose body arrives over 10 s), ``reader`` (the answer read a byte every 0.5 s), ``idle`` (keep-alive connections
held open after one answer). One more condition has no slow clients, but fast clients that open a new connection per
request (``fresh``) instead of keeping them alive. The figures per condition: the fast clients' goodput (answers
within 250 ms per second, ``benchmark.goodput``) and their served p99, and behind nginx, nginx's own CPU time per
request. Why goodput at a fixed load and not a capacity search per condition: 7 servers x 2 deployments x 14
conditions is 196 searches, days on this machine; a captured server shows as goodput falling to nothing.

Conditions run in a shuffled order per server; every probe and every population is bounded in time and stops by
itself; the results go to a new folder (``points.json``, ``summary.md``, ``slowclients.png``).
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from api_common.contract import SAMPLE
from api_common.ports import free_ports
from benchmark import goodput
from benchmark.loadgen import capacity, stats
from benchmark.rundir import Run, manifest, new_run_dir, write_atomic, write_json
from benchmark.slowclients import KINDS, population, slowloris
from benchmark.slowloris import BOUND_MS, DEPLOYMENTS, OFFERED, where
from benchmark.snapshot import settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control, variants
from lab.settings import LabSettings
from lab.stack import Stack

SERVERS = ("sync", "sync-gthread", "sync-gevent", "sync-meinheld", "sync-waitress", "sync-granian", "async")
SIZES = (10, 50, 200)
BEHAVIOURS = ("headers", *KINDS)  # headers: the slowloris
SETTLE_S = 1.0  # the population opens its connections before LoadGen starts


def server_stack(name: str) -> Stack:
    """Variant ``name`` on free ports, nginx in front of its scoring handler (which keeps its own port as well)."""
    v = variants.VARIANTS[name]
    redis, model, scoring, app = free_ports(4)
    base = {"redis": {"port": redis, "entities": 1000}, f"model-{v.chain}": {"port": model},
            f"scoring-{v.chain}": {"port": scoring, "app_port": app, "proxy": "nginx"}}  # fmt: skip
    return variants.stack_for(v, base)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (nginx's master and workers; its workers carry no ownership tag, so
    they are found by parent here, and only read)."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def conditions(sizes: tuple[int, ...]) -> list[tuple[str, str, int]]:
    """(deployment, behaviour, slow connections) for one server: none and fresh at 0, each behaviour at each size."""
    own = [("none", 0), ("fresh", 0)] + [(b, n) for b in BEHAVIOURS for n in sizes]
    return [(d, b, n) for d in DEPLOYMENTS for b, n in own]


def measure(stack: Stack, chain: str, dep: str, behaviour: str, n: int, probe_s: float, folder: Path,
            nginx_pid: int | None) -> dict:  # fmt: skip
    host, port, url = where(stack, chain, dep)
    path, body = urlsplit(url).path, json.dumps(SAMPLE).encode()
    hold = probe_s + SETTLE_S + 30  # LoadGen's start-up and its tail; the population stops with the block anyway
    qps, held = OFFERED[chain], {}
    cpu0 = tree_cpu_s(nginx_pid) if nginx_pid and dep == "nginx" else None
    if behaviour in KINDS and n:
        with population(behaviour, host, port, path, body, n, hold) as pop:
            time.sleep(SETTLE_S)
            capacity.probe(url, qps, probe_s, BOUND_MS, stack.redis.entities, folder, phase="slow")
        held = {"opened": pop.opened, "answered": pop.answered, "closed_by_server": pop.closed_by_server}
    elif behaviour == "headers" and n:
        with slowloris(host, port, n, hold, reconnect=True) as pop:
            time.sleep(SETTLE_S)
            capacity.probe(url, qps, probe_s, BOUND_MS, stack.redis.entities, folder, phase="slow")
        held = {"opened": pop.opened, "closed_by_server": pop.closed_by_server}
    else:
        capacity.probe(url, qps, probe_s, BOUND_MS, stack.redis.entities, folder, phase="slow",
                       fresh=behaviour == "fresh")  # fmt: skip
    cpu = tree_cpu_s(nginx_pid) - cpu0 if cpu0 is not None else None
    sent, latency, status = goodput.queries(folder)
    p = goodput.point(behaviour, chain, dep, n, qps, BOUND_MS, sent, latency, status)
    served = [lat for lat, st in zip(latency, status, strict=True) if st == 200]
    p50 = stats.quantile_interval(served, 0.5) if len(served) > 20 else None
    return {"deployment": dep, "behaviour": behaviour, "slow": n, **held, "offered_qps": qps,
            "goodput_qps": p.goodput_qps, "served_p99_ms": p.served_p99_ms,
            "served_p50_ms": statistics.median(served) if served else None, "served_p50_interval": p50,
            "nginx_cpu_ms_per_request": 1000 * cpu / len(sent) if cpu is not None and sent else None}  # fmt: skip


def run(lab: LabSettings, servers: tuple[str, ...], sizes: tuple[int, ...], probe_s: float, seed: int = 0,
        say=print) -> Path:  # fmt: skip
    path = new_run_dir(lab.results_dir, "clientbehaviour")
    options = {"kind": "clientbehaviour", "servers": servers, "sizes": sizes, "probe_s": probe_s, "seed": seed,
               "offered": OFFERED, "bound_ms": BOUND_MS}  # fmt: skip
    run_ = Run(path, manifest({}, options))
    order = random.Random(seed)
    points: list[dict] = []
    say(f"run folder: {path}")
    with run_.recording():
        for server in servers:
            stack = server_stack(server)
            chain = variants.VARIANTS[server].chain
            slab = lab.model_copy(update={"state_dir": lab.state_dir / f"clientbehaviour-{server}"})
            write_json(path / server / "settings.json", settings_snapshot(stack))
            control.cleanup_stale(slab, say)
            try:
                names = ["redis", *stack.chain_names(chain)]
                records = control.start(stack, slab, names, log=lambda *_: None)
                verify(stack, chains=(chain,))
                warm_up(stack, chains=(chain,))
                nginx = next(r.pid for r in records if r.name.startswith("proxy-"))
                for dep, behaviour, n in order.sample(conditions(sizes), len(conditions(sizes))):
                    folder = path / server / f"{dep}-{behaviour}-{n}"
                    p = {"server": server, "chain": chain} | measure(stack, chain, dep, behaviour, n, probe_s,
                                                                     folder, nginx)  # fmt: skip
                    points.append(p)
                    say(f"  {server:14} {dep:6} {behaviour:7} {n:4}: goodput {p['goodput_qps']:6.1f}/s of "
                        f"{p['offered_qps']:g}, served p99 {p['served_p99_ms'] or float('nan'):7.1f} ms")  # fmt: skip
            finally:
                control.down(slab, log=lambda *_: None)
            write_json(path / "points.json", points)  # after each server: a cut-short run keeps what it measured
        write_atomic(path / "summary.md", table(points, sizes))
        plot(points, sizes, path / "slowclients.png")
    say(table(points, sizes))
    return path


def table(points: list[dict], sizes: tuple[int, ...]) -> str:
    """Goodput as a share of the same server's and deployment's goodput with no slow clients, per behaviour and
    population size; the served p99 at the largest size in brackets."""
    head = "| server | deployment | goodput, none | fresh connections | " + " | ".join(
        f"{b} {n}" for b in BEHAVIOURS for n in sizes) + " | nginx CPU per request |"  # fmt: skip
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    by = {(p["server"], p["deployment"], p["behaviour"], p["slow"]): p for p in points}
    for server in dict.fromkeys(p["server"] for p in points):
        for dep in DEPLOYMENTS:
            calm = by.get((server, dep, "none", 0))
            if calm is None:
                continue
            base = calm["goodput_qps"] or float("nan")
            cell = lambda p, base=base: "-" if p is None else f"{p['goodput_qps'] / base:.0%}"  # noqa: E731
            cpu = [p["nginx_cpu_ms_per_request"] for (s, d, b, _), p in by.items()
                   if (s, d) == (server, dep) and b in ("none", "fresh") and p["nginx_cpu_ms_per_request"]]  # fmt: skip
            lines.append(f"| {server} | {dep} | {calm['goodput_qps']:.1f}/s | "
                         f"{cell(by.get((server, dep, 'fresh', 0)))} | "
                         + " | ".join(cell(by.get((server, dep, b, n))) for b in BEHAVIOURS for n in sizes)
                         + f" | {f'{statistics.median(cpu):.2f} ms' if cpu else '-'} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def plot(points: list[dict], sizes: tuple[int, ...], out: Path) -> None:
    """One panel per behaviour: each server's goodput share against the slow connections, direct and behind
    nginx."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(BEHAVIOURS), figsize=(4 * len(BEHAVIOURS), 3.6), sharey=True)
    by = {(p["server"], p["deployment"], p["behaviour"], p["slow"]): p["goodput_qps"] for p in points}
    servers = list(dict.fromkeys(p["server"] for p in points))
    colours = plt.get_cmap("tab10")
    for ax, behaviour in zip(axes, BEHAVIOURS, strict=True):
        for i, server in enumerate(servers):
            for dep, style in (("direct", "-"), ("nginx", ":")):
                base = by.get((server, dep, "none", 0))
                if not base:
                    continue
                xs = [0, *sizes]
                ys = [by.get((server, dep, behaviour, n), float("nan")) / base if n else 1.0 for n in xs]
                ax.plot(xs, ys, style, marker="o", color=colours(i), label=f"{server} {dep}")
        ax.set_title(behaviour)
        ax.set_xlabel("slow connections")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_ylim(-0.05, 1.15)
    axes[0].set_ylabel("fast clients' goodput / without slow ones")
    axes[-1].legend(fontsize=7, loc="lower left")
    fig.suptitle("Slow clients: goodput of the fast ones (solid: facing clients, dotted: behind nginx)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
