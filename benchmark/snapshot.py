"""What a run records of the running stack, beside its measurements: every service's settings, which of the lab's
processes serve a chain, and the services' metrics as they stand after the experiments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from api_common.contract import CHAINS
from api_common.settings import cpu_count
from benchmark.rundir import write_atomic
from lab.stack import Stack


def settings_snapshot(stack: Stack) -> dict:
    """Every setting of the services the lab runs; for a chain at a user's URL, only that URL."""
    snap = {"redis": stack.redis.model_dump(mode="json")}
    for svc in stack.services:
        if stack.remote(svc.chain):
            snap[svc.name] = {"remote": True, "url": svc.url} if svc.external_url else {"remote": True}
        else:
            s = svc.settings
            # What the server makes of the settings: its worker count and the requests it holds at once.
            snap[svc.name] = s.model_dump(mode="json") | {
                "workers_effective": s.worker_count(), "concurrency": s.concurrency(), "app_module": svc.app_module,
            }  # fmt: skip
    for front in stack.proxies:
        snap[front.name] = {"listen": f"{front.host}:{front.port}", "upstream": front.upstream,
                            **front.settings.model_dump(mode="json")}  # fmt: skip
    return snap


def locust_processes() -> int:
    """One Locust process per core the servers do not need (the servers get half the cores)."""
    return max(1, cpu_count() - max(1, cpu_count() // 2))


def chain_processes(stack: Stack, chain: str) -> tuple[str, ...]:
    """The lab's processes that serve ``chain``: none when the chain runs at a user's URL."""
    return () if stack.remote(chain) else ("redis", *stack.chain_names(chain))


def scrape_metrics(
    stack: Stack, out: Path, chains: tuple[str, ...] = CHAINS, folders: Callable[[str], Path] | None = None
) -> None:
    """The Prometheus metrics of each service of ``chains``, as they stand after the experiments, into the
    run folder. A model server answers its own metrics, or none, not the lab's: its processes' multiprocess
    files, in ``folders(service name)``, are read instead (the batch sizes it formed)."""
    with httpx.Client(timeout=5.0) as client:
        for svc in stack.services:
            if svc.chain not in chains:
                continue
            if stack.remote(svc.chain) and not svc.external_url:
                continue  # a remote chain's model API: the lab does not know where it is
            try:
                resp = client.get(f"{svc.url}/metrics")
                text = resp.text if resp.status_code == 200 else None
            except httpx.HTTPError:
                text = None
            own = folders(svc.name) if folders is not None and not svc.external_url else None
            lab_own = text is not None and ("lab_http_requests_total" in text or "model_batch_size" in text)
            if not lab_own and own is not None and own.is_dir():
                text = collect(own, svc.name)  # not the lab's metrics: a model server's, or none
            if text is not None:
                write_atomic(out / f"{svc.name}.prom", text)


def collect(folder: Path, service: str = "") -> str:
    """The metrics that the processes writing to ``folder`` kept, in Prometheus' text: their multiprocess files,
    and a model server's batch counts (api_model/model_servers) as the lab's ``model_batch_size`` histogram."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    from prometheus_client.core import HistogramMetricFamily

    from api_common.metrics import BATCH_BUCKETS
    from api_model.model_servers import read_counts

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(folder))
    counts = read_counts(folder)
    text = generate_latest(registry).decode()
    if not counts:
        return text
    family = HistogramMetricFamily("model_batch_size", "Items per model call (the server's own batching)",
                                   labels=["service"])  # fmt: skip
    buckets = [(str(float(b)), sum(n for size, n in counts.items() if size <= b)) for b in BATCH_BUCKETS]
    family.add_metric([service], buckets + [("+Inf", sum(counts.values()))], sum(k * n for k, n in counts.items()))

    class _Counts:
        def collect(self):
            yield family

    extra = CollectorRegistry()
    extra.register(_Counts())
    return text + generate_latest(extra).decode()
