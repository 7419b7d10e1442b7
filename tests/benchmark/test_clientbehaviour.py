"""The client-behaviour run's plan and table (benchmark/clientbehaviour.py), from made-up points."""

from __future__ import annotations

from benchmark.clientbehaviour import BEHAVIOURS, conditions, plot, table


def test_every_behaviour_at_every_size_in_both_deployments_plus_the_two_without_slow_clients():
    plan = conditions((10, 50))
    assert len(plan) == 2 * (2 + len(BEHAVIOURS) * 2) and len(set(plan)) == len(plan)
    assert ("direct", "none", 0) in plan and ("nginx", "fresh", 0) in plan and ("nginx", "headers", 50) in plan


def _point(dep, behaviour, n, goodput, cpu=None):
    return {"server": "sync", "chain": "sync", "deployment": dep, "behaviour": behaviour, "slow": n,
            "goodput_qps": goodput, "served_p99_ms": 100.0, "nginx_cpu_ms_per_request": cpu}  # fmt: skip


def test_the_table_gives_each_condition_as_a_share_of_the_same_deployments_calm_goodput(tmp_path):
    points = [_point("direct", "none", 0, 30.0), _point("direct", "headers", 10, 0.0),
              _point("direct", "fresh", 0, 15.0), _point("nginx", "none", 0, 20.0, cpu=0.3),
              _point("nginx", "headers", 10, 20.0), _point("nginx", "fresh", 0, 20.0, cpu=0.5)]  # fmt: skip
    text = table(points, (10,))
    direct = next(line for line in text.splitlines() if "| direct |" in line)
    behind = next(line for line in text.splitlines() if "| nginx |" in line)
    assert direct.startswith("| sync | direct | 30.0/s | 50% | 0% |") and direct.endswith("| - |")
    assert behind.startswith("| sync | nginx | 20.0/s | 100% | 100% |") and behind.endswith("| 0.40 ms |")
    plot(points, (10,), tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
