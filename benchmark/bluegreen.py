"""A blue/green model update behind nginx, and its rollback, while a chain is under load.

    lab bluegreen [--chain async] [--qps 150] [--hold-s 10]   (make bluegreen CHAIN=async)

The pattern the neighbour lab in the seeds runs with two TorchServe instances. Here: one chain (Redis and its
scoring handler) whose model tier is two tiers of the same server side by side, *blue* (the version in service) and
*green* (the next one), each saying its version in every answer (``MODEL_<CHAIN>_VERSION``), with nginx in front of
them on the port the scoring handler calls (lab/proxy.py, role "model"). While LoadGen offers a fixed open load to
the chain, nginx is switched from blue to green, then back (the rollback): its configuration rewritten and its master
sent SIGHUP (``lab.processes.reload``), which starts new workers on the new configuration and lets the old ones finish
what they hold. A switch has *completed* when every old worker has exited.

What is measured, from raw files only (LoadGen's ``queries.csv`` with its wall-clock start, nginx's access log: each
answer's end time, upstream and status):
- failed requests: answers of the chain that are not 200, and answers of nginx that are not 200;
- answers from the version switched away from after its switch completed and before the next one started (the target
  is 0 for both switches);
- the chain's p99 over the queries sent from each switch's start to 1 s after its end, against the p99 of those sent
  before the first switch (after the first second).
The results go to a new folder; the load and the stack stop by themselves.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx

from api_common.contract import SAMPLE
from api_common.ports import free_ports
from benchmark import goodput
from benchmark.loadgen import capacity, stats
from benchmark.rundir import Run, manifest, new_run_dir, write_json
from benchmark.snapshot import settings_snapshot
from benchmark.verify import verify, warm_up
from lab import control, processes, proxy
from lab.settings import LabSettings
from lab.stack import Service, Stack, build_stack

OFFERED = {"sync": 22.0, "async": 150.0}  # about half of each default chain's capacity here (45 and 300-500 QPS)
BOUND_MS = 250.0
AFTER_S = 1.0  # a switch's window: from its start to this long after it completed
VERSIONS = ("blue", "green")


def bluegreen_stack(chain: str) -> tuple[Stack, proxy.Proxy, dict[str, str]]:
    """``chain`` with two model tiers (blue, green) behind nginx; the upstream address of each version."""
    redis, blue, green, front, scoring = free_ports(5)
    stack = build_stack({
        "redis": {"port": redis, "entities": 1000},
        f"model-{chain}": {"port": blue, "version": "blue"},
        f"scoring-{chain}": {"port": scoring, "model_url": f"http://127.0.0.1:{front}"},
    })  # fmt: skip
    model = stack.model(chain)
    twin = Service(
        f"model-{chain}-green", "model", chain, model.settings.model_copy(update={"port": green, "version": "green"})
    )
    upstreams = {"blue": f"127.0.0.1:{blue}", "green": f"127.0.0.1:{green}"}
    front_ = proxy.Proxy(chain, "127.0.0.1", front, upstreams["blue"], proxy.ProxySettings(access_log=True), "model")
    return replace(stack, services=(*stack.services, twin), proxies=(front_,)), front_, upstreams


def version_through(stack: Stack, chain: str, front: proxy.Proxy) -> str | None:
    """The version a model answer through ``front`` says it came from."""
    url = stack.model(chain).predict_url.replace(stack.model(chain).url, front.url, 1)
    return httpx.post(url, json=SAMPLE, timeout=5).json().get("version")


def access_log(path: Path) -> list[tuple[float, str, int]]:
    """nginx's answers: (end time, upstream, status) per line of its access log (lab/proxy.py's ``lab`` format)."""
    rows = []
    for line in path.read_text().splitlines():
        t, upstream, status = line.split()
        rows.append((float(t), upstream, int(status)))
    return rows


def judge(sent: list[float], latency: list[float], status: list[int], t0: float, log: list[tuple[float, str, int]],
          switches: list[dict], upstreams: dict[str, str]) -> dict:  # fmt: skip
    """The run's figures from its raw records: ``sent`` seconds from ``t0`` (epoch), ``switches`` each with its
    ``from`` and ``to`` version and epoch ``started`` and ``completed``."""
    first = min(s["started"] for s in switches)
    before = [lat for s, lat in zip(sent, latency, strict=True) if 1.0 <= s and t0 + s < first]
    out: dict = {
        "queries": len(sent),
        "failed": sum(st != 200 for st in status),
        "proxy_answers": len(log),
        "proxy_failed": sum(st != 200 for _, _, st in log),
        "p99_before_ms": stats.percentile(before, 0.99) if before else None,
        "queries_before": len(before),
        "switches": [],
    }
    for sw, nxt in zip(switches, [*(s["started"] for s in switches[1:]), float("inf")], strict=True):
        old, after = upstreams[sw["from"]], lambda t: sw["completed"] < t < nxt  # noqa: B023 - used at once
        during = [lat for s, lat in zip(sent, latency, strict=True)
                  if sw["started"] <= t0 + s <= sw["completed"] + AFTER_S]  # fmt: skip
        out["switches"].append(sw | {
            "took_s": sw["completed"] - sw["started"],
            "old_answers_after": sum(after(t) and u == old for t, u, _ in log),
            "new_answers_after": sum(after(t) and u == upstreams[sw["to"]] for t, u, _ in log),
            "queries_during": len(during),
            "p99_during_ms": stats.percentile(during, 0.99) if during else None,
        })  # fmt: skip
    return out


def run(lab: LabSettings, chain: str, qps: float, hold_s: float, say=print) -> tuple[Path, dict]:
    stack, front, upstreams = bluegreen_stack(chain)
    path = new_run_dir(lab.results_dir, "bluegreen")
    options = {"kind": "bluegreen", "chain": chain, "qps": qps, "hold_s": hold_s, "bound_ms": BOUND_MS}
    run_ = Run(path, manifest({"bluegreen": settings_snapshot(stack)}, options))
    blab = lab.model_copy(update={"state_dir": lab.state_dir / f"bluegreen-{front.port}"})
    names = ["redis", f"model-{chain}", f"model-{chain}-green", front.name, f"scoring-{chain}"]
    workdir = control.run_folder(blab)
    say(f"run folder: {path}")
    try:
        with run_.recording():
            records = control.start(stack, blab, names, log=lambda *_: None)
            verify(stack, chains=(chain,))
            warm_up(stack, chains=(chain,))
            nginx = next(r for r in records if r.name == front.name)
            folder, log_path = path / "probe", proxy.folder(front, workdir) / proxy.ACCESS_LOG
            load = threading.Thread(target=capacity.probe, name="loadgen", daemon=True, args=(
                stack.scoring(chain).predict_url, qps, 3 * hold_s, BOUND_MS, stack.redis.entities, folder, "bluegreen"
            ))  # fmt: skip
            seen = log_path.stat().st_size
            load.start()
            while log_path.stat().st_size == seen and load.is_alive():  # LoadGen's first queries have arrived
                time.sleep(0.05)
            switches, start = [], time.time()
            for at, (old, new) in ((hold_s, ("blue", "green")), (2 * hold_s, ("green", "blue"))):
                time.sleep(max(0.0, start + at - time.time()))
                front = proxy.switch(front, workdir, upstreams[new])
                started = time.time()
                processes.reload(nginx, timeout=front.settings.proxy_read_timeout_s + 5)
                switches.append({"from": old, "to": new, "started": started, "completed": time.time(),
                                 "answered_by": version_through(stack, chain, front)})  # fmt: skip
                say(f"  switched {old} -> {new} in {switches[-1]['completed'] - started:.3f} s")
            load.join(timeout=3 * hold_s * 3 + 90)  # the probe's own bound (capacity.probe) and then some
            sent, latency, status = goodput.queries(folder)
            t0 = json.loads((folder / "result.json").read_text())["t0_epoch"]
            summary = judge(sent, latency, status, t0, access_log(log_path), switches, upstreams)
            summary |= {"chain": chain, "offered_qps": qps, "hold_s": hold_s}
            write_json(path / "summary.json", summary)
    finally:
        control.down(blab, log=lambda *_: None)
    say(
        f"{chain}: {summary['queries']} queries at {qps:g} QPS, {summary['failed']} failed "
        f"(nginx: {summary['proxy_failed']} of {summary['proxy_answers']}); "
        f"p99 before {summary['p99_before_ms']:.1f} ms"
    )
    for sw in summary["switches"]:
        say(
            f"  {sw['from']} -> {sw['to']}: {sw['took_s'] * 1000:.0f} ms; answers from {sw['from']} after it: "
            f"{sw['old_answers_after']}; p99 of the {sw['queries_during']} queries during it "
            f"{sw['p99_during_ms']:.1f} ms"
        )
    return path, summary
