"""Durations presets: options that would make an experiment measure nothing are refused up front."""

from __future__ import annotations

import pytest

from benchmark.profiles import MAX_PERF_SPAWN_S, QUICK, ProfileError
from cli import main as cli


def test_the_presets_are_valid_and_options_override_them():
    assert QUICK.with_options(max_performance_s=60, stress_users=None).max_performance_s == 60
    assert QUICK.with_options(stress_users=None).stress_users == QUICK.stress_users


def test_a_hold_no_longer_than_its_spawn_is_refused():
    # Once the spawn is left out, such a hold keeps one or two requests: no throughput to report.
    with pytest.raises(ProfileError, match="max performance must hold"):
        QUICK.with_options(max_performance_s=MAX_PERF_SPAWN_S + 1)


@pytest.mark.parametrize("option", [{"ramp_rate": 0}, {"stress_s": -1}, {"timeit_min_calls": 5, "timeit_max_calls": 2}])
def test_non_positive_or_inverted_options_are_refused(option):
    with pytest.raises(ProfileError):
        QUICK.with_options(**option)


def test_the_cli_refuses_them_with_a_message_before_starting_anything(capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", {})  # reaching a command would raise KeyError
    assert cli.main(["locust", "--max-performance-s", "1"]) == 2
    assert "max performance must hold" in capsys.readouterr().err
