"""A max-performance hold set aside under another name keeps every file, and nothing else is touched."""

from __future__ import annotations

from benchmark.locust.scenarios import OVER_BOUND, over_bound, set_aside


def test_set_aside_renames_one_runs_files_only(tmp_path):
    names = ["sync-max_performance.html", "sync-max_performance_stats.csv", "sync-max_performance-requests-7.csv",
             "sync-max_performance-resources.csv", "sync-stress.html", "async-max_performance.html"]  # fmt: skip
    for name in names:
        (tmp_path / name).write_text(name)
    set_aside(tmp_path / "sync-max_performance", OVER_BOUND)
    after = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert after == {
        "sync-max_performance-over-bound.html": "sync-max_performance.html",
        "sync-max_performance-over-bound_stats.csv": "sync-max_performance_stats.csv",
        "sync-max_performance-over-bound-requests-7.csv": "sync-max_performance-requests-7.csv",
        "sync-max_performance-over-bound-resources.csv": "sync-max_performance-resources.csv",
        "sync-stress.html": "sync-stress.html",
        "async-max_performance.html": "async-max_performance.html",
    }


def test_a_second_hold_set_aside_keeps_the_first(tmp_path):
    for name in ("sync-max_performance.html", "sync-max_performance-over-bound.html"):
        (tmp_path / name).write_text(name)
    set_aside(tmp_path / "sync-max_performance", over_bound(2))
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "sync-max_performance-over-bound.html": "sync-max_performance-over-bound.html",
        "sync-max_performance-over-bound-2.html": "sync-max_performance.html",
    }
