"""A blue/green model update behind nginx, and its rollback, under LoadGen on a real stack (benchmark/bluegreen.py):
nothing failed, and once a switch completed no answer came from the version it switched away from."""

from __future__ import annotations

import pytest

from benchmark import bluegreen
from lab import proxy
from tests.conftest import lab_settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(proxy.find_binary(proxy.ProxySettings()) is None, reason="nginx is not installed (make nginx)"),
]
QPS = {"sync": 15.0, "async": 40.0}  # under each chain's capacity on a busy 2-core machine (about 45 and 300)
HOLD_S = 4.0


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_a_switch_and_a_rollback_drop_nothing_and_leave_no_old_answers(chain, tmp_path):
    lab = lab_settings(tmp_path)
    path, out = bluegreen.run(lab, chain, QPS[chain], HOLD_S, say=lambda *_: None)
    assert out["queries"] >= QPS[chain] * 3 * HOLD_S * 0.9  # LoadGen offered its whole run (Poisson: a margin)
    assert out["failed"] == 0 and out["proxy_failed"] == 0, out
    for sw in out["switches"]:
        assert sw["answered_by"] == sw["to"]  # the model's own answer says which version served it
        assert sw["old_answers_after"] == 0, sw
        assert sw["new_answers_after"] > 0  # the new version really carried the load
        assert sw["took_s"] < proxy.ProxySettings().proxy_read_timeout_s  # its old workers did exit
    assert (path / "summary.json").exists() and (path / "probe" / "queries.csv").exists()
