"""The machine's readings around a probe: CPU shares busy and stolen, and its speed."""

import statistics
import time

import psutil
import pytest

from benchmark.resources import SpeedSampler, machine_shares

Times = type(psutil.cpu_times())


def _times(**values: float):
    return Times(**{f: values.get(f, 0.0) for f in Times._fields})


def test_shares_are_percents_of_all_cores_time():
    before = _times(user=10.0, system=5.0, idle=100.0)
    after = _times(user=13.0, system=6.0, idle=103.0, **({"steal": 2.0} if "steal" in Times._fields else {}))
    shares = machine_shares(before, after)
    total = 4.0 + 3.0 + (2.0 if "steal" in Times._fields else 0.0)
    assert shares["machine_busy_pct"] == pytest.approx(100 * 4.0 / total)
    if "steal" in Times._fields:
        assert shares["machine_steal_pct"] == pytest.approx(100 * 2.0 / total)


def test_no_time_between_readings_gives_no_share():
    same = _times(user=1.0, idle=1.0)
    assert machine_shares(same, same) == {"machine_busy_pct": None, "machine_steal_pct": None}


def test_speed_sampler_gives_the_median_unit_time_of_its_samples():
    sampler = SpeedSampler(interval=0.01)
    sampler.start()
    deadline = time.monotonic() + 10  # a busy machine may take long to give the thread its first turns
    while len(sampler.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    median = sampler.stop()
    assert len(sampler.samples) >= 3
    assert median == statistics.median(sampler.samples) and median > 0
    assert not sampler.is_alive()


def test_speed_sampler_stopped_before_its_first_sample_gives_none():
    sampler = SpeedSampler(interval=60)
    sampler.start()
    assert sampler.stop() is None
