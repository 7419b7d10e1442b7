"""The capacity search against a fake chain (no processes): it finds the known capacity, inside its budget."""

from __future__ import annotations

import math
import random

import pytest

from benchmark.loadgen import capacity
from benchmark.report import plots


def fake_chain(monkeypatch, knee_qps: float, bracket_optimism: float = 1.0):
    """A chain whose p99 is 80 ms under ``knee_qps`` and overloaded past it; its short bracket probes
    see a knee ``bracket_optimism`` times higher (a queue needs time to build)."""
    rng = random.Random(5)
    budget_clock = {"t": 0.0}

    def probe(url, qps, duration_s, bound_ms, entities, folder, phase="bracket", cpus=None):
        budget_clock["t"] += duration_s + 1
        knee = knee_qps * (bracket_optimism if phase == "bracket" else 1.0)
        over = qps > knee * rng.uniform(0.98, 1.02)
        p99 = 3000.0 if over else 80.0 + 150.0 * qps / knee
        n = int(qps * duration_s)
        return capacity.Probe(qps, not over, p99, 60.0, qps, 0, None, None, str(folder), duration_s, n,
                              n // 10 if over else 0, queue_building=over, verdict="fail" if over else "unsure",
                              phase=phase, tail_ms=[p99] * max(1, n // 33))  # fmt: skip

    monkeypatch.setattr(capacity, "probe", probe)
    monkeypatch.setattr(capacity, "settle", lambda url, bound_ms: 0.0)
    monkeypatch.setattr(capacity.time, "monotonic", lambda: budget_clock["t"])


@pytest.mark.parametrize("optimism", [1.0, 1.4])
def test_the_search_finds_the_knee_even_when_short_probes_overestimate_it(monkeypatch, tmp_path, optimism):
    fake_chain(monkeypatch, knee_qps=100, bracket_optimism=optimism)
    cap = capacity.find("http://x", 250, 4, tmp_path, budget_s=300, progress=lambda *_: None)
    assert cap.qps and 90 <= cap.qps <= 110
    assert cap.seconds <= 300 + 3 * 8 + 60  # its budget, and at most one probe begun inside it
    assert (tmp_path / "capacity.json").exists()


def test_the_latency_plot_takes_an_interval_that_disagrees_with_loadgen():
    rows = {"sync": [{"target_qps": 40, "p99_ms": 100.0, "p99_low_ms": 120.0, "p99_high_ms": math.inf}]}
    assert plots.capacity_curve(rows, {"sync": {"capacity_qps": 40}}, 250).startswith(b"\x89PNG")
