"""The lab's layers timed in process: each app driven with and without one layer answers, and the figures are
per request and finite."""

from __future__ import annotations

import math

import pytest

from benchmark import layercost


@pytest.mark.parametrize("chain", ["async", "sync"])
def test_each_layer_is_timed_on_an_app_that_answers(chain, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # as under the servers: metrics in files
    costs = layercost.measure(chain, requests=100, repeats=2)
    assert [c.layer for c in costs] == list(layercost.LAYERS)
    for c in costs:
        assert math.isfinite(c.us) and c.low <= c.us <= c.high and c.base_us > 0
        assert c.per_scoring_request_us == pytest.approx(3 * c.us)  # one scoring app and two model calls
    # The base is a whole request through the app: more than any one layer's share of it.
    assert all(c.base_us > c.us for c in costs)


def test_the_scoring_only_layers_are_timed():
    timed = layercost.scoring_only_us(repeats=200)
    assert set(timed) == {"timing", "deadlines"} and all(0 < us < 1000 for us in timed.values())
