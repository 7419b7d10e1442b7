"""The blue/green run's figures from its raw records (benchmark/bluegreen.py): made-up records whose answers are
known, so each count can be seen to fail."""

from __future__ import annotations

import pytest

from benchmark.bluegreen import access_log, judge

UP = {"blue": "127.0.0.1:1", "green": "127.0.0.1:2"}
T0 = 1000.0
SWITCHES = [
    {"from": "blue", "to": "green", "started": T0 + 5.0, "completed": T0 + 5.2},
    {"from": "green", "to": "blue", "started": T0 + 10.0, "completed": T0 + 10.1},
]


def test_the_version_switched_away_from_counts_only_after_its_switch_completed_and_before_the_next():
    log = [
        (T0 + 5.1, UP["blue"], 200),  # in flight while the switch ran: allowed
        (T0 + 6.0, UP["green"], 200),
        (T0 + 7.0, UP["blue"], 200),  # the old version after the switch completed: counted
        (T0 + 10.05, UP["green"], 200),  # in flight during the rollback: allowed
        (T0 + 11.0, UP["blue"], 502),
    ]
    out = judge([0.5, 2.0, 5.1, 5.9, 10.5], [10.0, 20.0, 300.0, 30.0, 40.0], [200, 200, 200, 200, 0], T0, log,
                SWITCHES, UP)  # fmt: skip
    assert out["failed"] == 1 and out["proxy_failed"] == 1 and out["proxy_answers"] == 5
    first, rollback = out["switches"]
    assert (first["old_answers_after"], first["new_answers_after"]) == (1, 1)
    assert (rollback["old_answers_after"], rollback["new_answers_after"]) == (0, 1)
    assert out["queries_before"] == 1 and out["p99_before_ms"] == 20.0  # the first second is left out
    assert first["queries_during"] == 2 and first["p99_during_ms"] == 300.0  # sent from its start to 1 s after it
    assert first["took_s"] == pytest.approx(0.2)


def test_the_access_log_is_read_as_nginx_writes_it(tmp_path):
    (tmp_path / "access.log").write_text("1796453342.484 127.0.0.1:1 200\n1796453342.490 127.0.0.1:2 502\n")
    assert access_log(tmp_path / "access.log") == [(1796453342.484, UP["blue"], 200), (1796453342.49, UP["green"], 502)]
