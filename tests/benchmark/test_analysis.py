"""The report's arithmetic on synthetic data, where the right answer is known."""

import math

import pytest

from benchmark import analysis as an
from benchmark.experiments.timeit import async_faster_percent


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert an.percentile(values, 50) == 50
    assert an.percentile(values, 99) == 99
    assert an.percentile([7.0], 95) == 7.0
    assert math.isnan(an.percentile([], 50))


def paced_ramp(capacity_rps: float, max_users: int = 60, seconds_per_user: float = 1.0):
    """A ramp adding one user per second, each sending 1 req/s, against a server capped at ``capacity_rps``."""
    reqs, history = [], []
    t = 1000.0
    for second in range(int(max_users * seconds_per_user)):
        users = 1 + int(second / seconds_per_user)
        served = min(users, capacity_rps)
        latency = 50.0 if users <= capacity_rps else 50.0 * users / capacity_rps * 4
        for k in range(int(served)):
            reqs.append(an.Request(t + second + k / max(served, 1), latency, True, {}))
        history.append((t + second + 1, users))
    return reqs, history


def test_ramp_steps_follow_the_offered_load_below_capacity():
    reqs, history = paced_ramp(capacity_rps=1000, max_users=40)
    steps = an.ramp_steps(reqs, history, step_users=10)
    assert [s.users for s in steps] == [10, 20, 30, 40]
    # The offered load counts users present a full period earlier, which this synthetic ramp (first
    # request at once) exceeds by one user: close but not exact, and loosest on the first step.
    for s in steps[1:]:
        assert s.rps == pytest.approx(s.offered_rps, rel=0.1)


def test_breaking_point_is_where_throughput_stops_following_users():
    reqs, history = paced_ramp(capacity_rps=25, max_users=60)
    steps = an.ramp_steps(reqs, history, step_users=10)
    bp = an.breaking_point(steps, latency_bound_ms=10_000)
    assert bp.users == 30 and "stopped following" in bp.reason
    assert bp.rps <= 25 * 1.05


def test_breaking_point_by_latency_bound():
    reqs, history = paced_ramp(capacity_rps=25, max_users=60)
    bp = an.breaking_point(an.ramp_steps(reqs, history, step_users=10), latency_bound_ms=100)
    assert bp.users == 20 and "p95" in bp.reason


def test_breaking_point_not_reached_is_said_so():
    reqs, history = paced_ramp(capacity_rps=1000, max_users=30)
    bp = an.breaking_point(an.ramp_steps(reqs, history, step_users=10), latency_bound_ms=1000)
    assert bp.users == 30 and "not reached" in bp.reason


def test_failures_end_the_healthy_range():
    steps = [
        an.Step(0, 1, 10, 5.5, 5.5, 50, 60, 70, 0.0, 50),
        an.Step(1, 2, 20, 15.5, 15.0, 50, 60, 70, 2.0, 150),
    ]
    bp = an.breaking_point(steps, 1000)
    assert bp.users == 10 and "failures" in bp.reason


def test_summarise_counts_failures_and_server_timing():
    reqs = [
        an.Request(float(i), 100.0 + i, i % 10 != 0, {"redis": 1.0, "models": 90.0, "total": 95.0}) for i in range(100)
    ]
    s = an.summarise(reqs)
    assert s.requests == 100 and s.failures == 10 and s.failure_pct == pytest.approx(10)
    assert s.rps == pytest.approx(100 / (99 + 0.199))  # 100 answers from the first send to the last answer
    assert s.p50_ms == 149.0 and s.models_ms == 90.0


def test_async_faster_percent():
    rows = [
        {"n": 1, "chain": "sync", "median_s": 0.1},
        {"n": 1, "chain": "async", "median_s": 0.05},
        {"n": 2, "chain": "sync", "median_s": 0.2},
        {"n": 2, "chain": "async", "median_s": 0.15},
    ]
    assert async_faster_percent(rows) == pytest.approx((50 + 25) / 2)


def test_resources_from_samples(tmp_path):
    prefix = tmp_path / "x"
    lines = [
        "time,group,cpu_s,rss_bytes",
        "0,locust,0,100",
        "1,locust,0.95,100",
        "2,locust,1.2,200",
        "0,sync,5,1048576",
    ]
    (tmp_path / "x-resources.csv").write_text("\n".join(lines) + "\n")
    res = an.load_resources(prefix, "locust")
    assert res.cpu_s == pytest.approx(1.2) and res.peak_cpu_pct == pytest.approx(95) and res.samples_over_90 == 1
    assert an.cpu_series(prefix, "locust") == [(1.0, pytest.approx(95)), (2.0, pytest.approx(25))]


def test_batch_sizes_are_read_from_the_histogram_of_a_scraped_metrics_file(tmp_path):
    """Calls of 1, 1, 3, 8 and 40 items: shares per band from the cumulative buckets, the mean from sum/count."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from api_common.metrics import BATCH_BUCKETS
    from benchmark.analysis import batch_sizes

    reg = CollectorRegistry()
    h = Histogram("model_batch_size", "items per call", ["service"], buckets=BATCH_BUCKETS, registry=reg)
    for size in (1, 1, 3, 8, 40):
        h.labels("model-async").observe(size)
    prom = tmp_path / "model-async.prom"
    prom.write_bytes(generate_latest(reg))
    got = batch_sizes(prom)
    assert (got["calls"], got["items"], got["mean"]) == (5, 53, 53 / 5)
    assert got["shares"] == {"1": 0.4, "2": 0.0, "3-4": 0.2, "5-8": 0.2, "9-16": 0.0, "17-32": 0.0, ">32": 0.2}
    assert batch_sizes(tmp_path / "absent.prom") is None
