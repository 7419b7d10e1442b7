"""The cost model's arithmetic on known inputs, and its queue's waits against a simulation of the same queue."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from benchmark import costmodel as cm


def test_erlang_c_on_known_values():
    assert cm.erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: an arrival waits with the utilisation's probability
    assert cm.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert cm.erlang_c(5, 0.0) == 0.0 and cm.erlang_c(5, 5.0) == 1.0  # idle; saturated
    assert cm.erlang_c(200, 150.0) < 1e-3  # many servers at 75%: summed term by term, no overflow


def _simulated_p99_wait_ms(rate: float, servers: int, service_ms: float, constant: bool, n: int = 60_000) -> float:
    """A first-come-first-served queue of ``servers`` with Poisson arrivals, event by event."""
    rng = np.random.default_rng(7)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    service = np.full(n, service_ms / 1000) if constant else rng.exponential(service_ms / 1000, n)
    free, waits = [0.0] * servers, np.empty(n)
    for i, at in enumerate(arrivals):
        start = max(at, heapq.heappop(free))
        waits[i] = start - at
        heapq.heappush(free, start + service[i])
    return 1000 * float(np.quantile(waits[n // 10 :], 0.99))  # the first tenth: the queue filling from empty


@pytest.mark.parametrize(("rate", "constant"), [(30.0, True), (40.0, True), (30.0, False), (40.0, False)])
def test_the_wait_quantile_matches_a_simulated_queue(rate, constant):
    # Five sync workers of 102 ms (the default sync chain's shape): M/D/5 and M/M/5 at 61% and 82% load.
    predicted = cm.wait_quantile_ms(rate, 5, 102.0, scv=0.0 if constant else 1.0)
    simulated = _simulated_p99_wait_ms(rate, 5, 102.0, constant, n=100_000)
    assert predicted == pytest.approx(simulated, rel=0.08 if constant else 0.15)  # a finite run; M/M/c's is closed


@pytest.mark.parametrize(("rate", "servers"), [(2.0, 1), (5.0, 1), (10.0, 2), (14.0, 2), (70.0, 9)])
def test_the_constant_services_wait_is_exact_on_few_servers_where_allen_cunneen_overshoots(rate, servers):
    # One or two sync workers of 100 ms: Crommelin's M/D/c against the simulated queue, where Allen-Cunneen's
    # half of M/M/c's wait (the model until 2026-12-05) was 10-30% long.
    exact = cm.wait_quantile_ms(rate, servers, 100.0, scv=0.0)
    simulated = _simulated_p99_wait_ms(rate, servers, 100.0, True, n=100_000)
    assert exact == pytest.approx(simulated, rel=0.06)
    if servers <= 2:
        assert cm.mm_wait_quantile_ms(rate, servers, 100.0) / 2 > 1.06 * simulated
    assert cm.md_wait_le(0.0, 5.0, 1, 100.0) == pytest.approx(0.5)  # M/D/1: no wait with the idle probability


def test_the_wait_moves_from_the_constant_services_to_the_exponentials_with_the_spread():
    md, mm = cm.wait_quantile_ms(30.0, 5, 102.0, scv=0.0), cm.wait_quantile_ms(30.0, 5, 102.0, scv=1.0)
    assert md < cm.wait_quantile_ms(30.0, 5, 102.0, scv=0.5) < mm
    assert math.isinf(cm.wait_quantile_ms(50.0, 5, 100.0, scv=0.0))  # saturated


def test_capacity_is_bound_by_its_slots_or_its_cores_and_tends_to_their_limits():
    sync = cm.Costs(latency_ms=100.0, cpu_ms=5.0, concurrency=5, latency_scv=0.0)
    p = cm.capacity(sync, cores=2, bound_ms=250)
    assert p.bound_by == "slots" and p.qps < 5 / 0.1  # under Little's law's 50/s: it waits at the bound
    assert cm.capacity(sync, cores=2, bound_ms=1e6).qps == pytest.approx(50.0, rel=0.01)  # no bound: Little's law
    async_ = cm.Costs(latency_ms=50.0, cpu_ms=4.0, concurrency=None)
    p = cm.capacity(async_, cores=2, bound_ms=250)
    assert p.bound_by == "cores" and p.slots_qps is None and p.qps < 2 * 1000 / 4
    assert cm.capacity(async_, cores=2, bound_ms=1e6).qps == pytest.approx(500.0, rel=0.01)  # cores / CPU


def test_more_cores_carry_more_and_a_slow_request_carries_nothing():
    async_ = cm.Costs(latency_ms=50.0, cpu_ms=4.0, concurrency=None)
    figures = [cm.capacity(async_, cores=c, bound_ms=250).qps for c in (1, 2, 4, 8, 16)]
    assert figures == sorted(figures) and figures[-1] > 15 * figures[0]  # more than linear: pooling shortens waits
    assert cm.capacity(cm.Costs(300.0, 1.0, 4), cores=2, bound_ms=250).qps == 0.0
    assert math.isinf(cm.wait_quantile_ms(60.0, 5, 102.0))  # past saturation


def test_a_tier_of_fewer_processes_than_cores_caps_the_chain():
    # 4 ms of CPU a request, 3 of them in a scoring tier of one process: on 2 cores that process is the limit.
    capped = cm.Costs(latency_ms=50.0, cpu_ms=4.0, concurrency=None, tiers=((1, 3.0), (2, 1.0)))
    p = cm.capacity(capped, cores=2, bound_ms=1e6)
    assert p.bound_by == "tier" and p.qps == pytest.approx(1000 / 3.0, rel=0.01)
    free = cm.Costs(latency_ms=50.0, cpu_ms=4.0, concurrency=None, tiers=((2, 3.0), (2, 1.0)))
    assert cm.capacity(free, cores=2, bound_ms=1e6).qps == pytest.approx(500.0, rel=0.01)  # as many as cores: no cap


def test_a_client_on_the_same_cores_and_the_model_tiers_slots_take_their_share():
    chain = cm.Costs(latency_ms=50.0, cpu_ms=4.0, concurrency=None)
    shared = cm.Costs(latency_ms=50.0, cpu_ms=4.0, concurrency=None, client_cpu_ms=1.0)
    assert cm.capacity(shared, cores=2, bound_ms=1e6).qps == pytest.approx(400.0, rel=0.01)  # 2 cores / 5 ms
    assert cm.capacity(shared, cores=2, bound_ms=250).qps < cm.capacity(chain, cores=2, bound_ms=250).qps
    # Five scoring workers of 100 ms, calling a model tier of 3 workers twice each for 45 ms: 3 / 0.09 = 33 a second.
    sync = cm.Costs(latency_ms=100.0, cpu_ms=5.0, concurrency=5, latency_scv=0.0, more_slots=((3, 45.0, 2.0),))
    assert cm.capacity(sync, cores=2, bound_ms=1e6).qps == pytest.approx(1000 * 3 / 90, rel=0.01)
    assert cm.capacity(sync, cores=2, bound_ms=250).qps < 1000 * 3 / 90


def test_the_ablations_interval_covers_the_true_difference_about_95_times_in_100():
    # Paired rounds with a shared drift per round (the machine) and noise per hold: Student's t over the differences.
    from benchmark import ablation

    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(400):
        drift = rng.normal(0, 0.6, 5)
        a = {r: 5.0 + drift[r] + rng.normal(0, 0.1) for r in range(5)}
        b = {r: 4.7 + drift[r] + rng.normal(0, 0.1) for r in range(5)}
        covered += ablation.paired(a, b).holds(0.3)
    assert 0.90 <= covered / 400 <= 0.99


def test_the_layers_costs_telescope_and_share_the_first_steps_cpu():
    from benchmark import ablation

    per_round = {"a": {1: 5.0, 2: 6.0}, "b": {1: 4.0, 2: 5.0}, "c": {1: 3.5, 2: 4.4}}
    costs = ablation.layer_costs(per_round, ["a", "b", "c"])
    assert [c["step"] for c in costs] == ["b", "c"]
    assert costs[0]["saved"]["mean"] == pytest.approx(1.0) and costs[0]["share"] == pytest.approx(1.0 / 5.5)
    assert costs[1]["saved"]["mean"] == pytest.approx(0.55)


def _inputs(chain: str, workers: int, shares: bool = False) -> dict:
    return {"chain": chain, "workers": workers, "threads": 1, "n_models": 2, "latency_ms": 102.0 if chain == "sync"
            else 52.0, "latency_scv": 0.01, "cpu_ms": 5.0, "scoring_cpu_ms": 2.5, "model_cpu_ms": 2.0,
            "redis_cpu_ms": 0.5, "client_cpu_ms": 1.0, "client_shares_cores": shares}  # fmt: skip


def test_costcheck_predicts_from_measured_inputs_and_judges_against_the_interval():
    from benchmark import costcheck
    from benchmark.loadgen.records import Capacity

    sync1 = costcheck.predict(_inputs("sync", 1), cores=1, bound_ms=250)
    sync9 = costcheck.predict(_inputs("sync", 9), cores=1, bound_ms=250)
    assert sync1.bound_by == "slots" and sync1.qps < 1000 / 102
    assert sync9.qps > 5 * sync1.qps  # more workers, more slots, until the core binds
    one = costcheck.predict(_inputs("async", 1), cores=2, bound_ms=250)
    four = costcheck.predict(_inputs("async", 4), cores=2, bound_ms=250)
    assert one.bound_by == "tier" and four.bound_by == "cores" and one.qps < four.qps  # one process: one core
    shared = costcheck.predict(_inputs("async", 4, shares=True), cores=2, bound_ms=250)
    assert shared.qps < four.qps  # the load generator's CPU on the same cores
    busy = costcheck.predict(_inputs("async", 4, shares=True) | {"cores_cpu_ms": 8.0}, cores=2, bound_ms=250)
    assert busy.qps < shared.qps and busy.qps < 2 * 1000 / 8.0  # the cores' busy time serves their queue
    assert costcheck.predict(_inputs("async", 4, shares=True) | {"cores_cpu_ms": 8.0}, cores=2, bound_ms=250,
                             busy=False).qps == shared.qps  # fmt: skip
    measured = Capacity(100.0, 250.0, [], False, low=90.0, high=120.0)
    assert costcheck.holds(115.0, measured) and costcheck.holds(86.0, measured)  # in the interval; within 15%
    assert not costcheck.holds(80.0, measured) and costcheck.holds(80.0, None) is None
    assert [c.name for c in costcheck.configs()][:4] == ["sync-c1-w1", "sync-c1-w2", "sync-c1-w5", "sync-c1-w9"]


def test_cores_busy_seconds_counts_the_machines_busy_time():
    import os
    import time

    from lab import processes

    cpus = os.sched_getaffinity(0)
    before = processes.cores_busy_seconds(cpus)
    end = time.process_time() + 0.3
    while time.process_time() < end:  # 0.3 s of this process's CPU, on these cores
        pass
    assert processes.cores_busy_seconds(cpus) - before >= 0.2  # at 100 ticks a second, 0.1 s of margin
    assert processes.cores_busy_seconds(set()) == 0.0


def test_costcheck_runs_each_chain_with_its_workers_and_its_overload_policy_off():
    from benchmark import costcheck
    from lab import variants

    for cfg in (costcheck.Config("sync", 1, 5), costcheck.Config("async", 2, 4)):
        stack = variants.stack_for(cfg.variant())
        scoring, model = stack.scoring(cfg.chain).settings, stack.model(cfg.chain).settings
        assert scoring.admission == "off" and scoring.worker_count() == model.worker_count() == cfg.workers
    assert variants.stack_for(variants.get("async")).scoring("async").settings.admission == "delay"  # the default
    assert len(costcheck.configs()) == 14


def test_a_probe_of_few_queries_from_an_idle_queue_sees_a_shorter_tail_than_a_long_run():
    # Five slots of 100 ms at 85%: a run of 460 queries from empty has not filled the queue a long run holds.
    short = cm.md_window_quantile_ms(42.7, 5, 100.0, 460)
    assert short < 0.8 * cm.md_wait_quantile_ms(42.7, 5, 100.0)
    # A long enough run reaches the long run's figure (simulated: within its noise).
    assert cm.md_window_quantile_ms(42.7, 5, 100.0, 40_000, windows=8) == pytest.approx(
        cm.md_wait_quantile_ms(42.7, 5, 100.0), rel=0.15)  # fmt: skip
    figures = [cm.md_window_quantile_ms(r, 5, 100.0, 460) for r in (30.0, 36.0, 42.0, 48.0)]
    assert figures == sorted(figures)  # the same draws at every rate: the figure rises with it
    sync = cm.Costs(latency_ms=100.0, cpu_ms=5.0, concurrency=5, latency_scv=0.0)
    windowed = cm.capacity(sync, cores=2, bound_ms=250, window=lambda r: 460)
    assert windowed.bound_by == "slots" and windowed.qps > cm.capacity(sync, cores=2, bound_ms=250).qps


def test_costcheck_judges_what_the_searchs_probes_measure():
    from benchmark import costcheck

    window = costcheck.probe_window(4.0, 150.0)
    assert window(40.0) >= 459  # LoadGen's early stopping needs 459 queries to pass
    inputs = _inputs("sync", 5)
    long_run = costcheck.predict(inputs, cores=2, bound_ms=250)
    probed = costcheck.predict(inputs, cores=2, bound_ms=250, window=window)
    assert probed.qps > long_run.qps and probed.bound_by == long_run.bound_by == "slots"
    async_ = _inputs("async", 4)
    assert costcheck.predict(async_, 2, 250, window).qps == costcheck.predict(async_, 2, 250).qps  # no slots
