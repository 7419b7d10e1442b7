"""Earlier runs of the same code, settings and machine, set beside a capacity run's own figure."""

import json

from benchmark.loadgen import history
from benchmark.rundir import write_json

BASE = {"source": "abc", "cpu_model": "AMD EPYC", "cpu_count": 2, "settings": {"scoring-async": {"workers": 1}},
        "options": {"capacity_bound_ms": 250.0, "capacity_probe_s": 4, "capacity_pin": False,
                    "targets": {"async": "http://127.0.0.1:8001"}, "remote": [], "capacity_budget_s": 240}}  # fmt: skip


def a_run(results, name, qps=None, complete=True, **changes):
    run = results / name
    manifest = json.loads(json.dumps(BASE)) | {"complete": complete}
    for key, value in changes.items():
        target = manifest["options"] if key in manifest["options"] else manifest
        target[key] = value
    write_json(run / "manifest.json", manifest)
    for chain, q in (qps or {}).items():
        write_json(run / "loadgen" / chain / "capacity.json", {"qps": q, "low": q * 0.9, "high": q * 1.1})
    return run


def test_only_earlier_complete_runs_of_the_same_code_settings_and_machine_count(tmp_path):
    a_run(tmp_path, "20261123T050000Z-capacity", {"sync": 45, "async": 150})
    a_run(tmp_path, "20261123T051000Z-run", {"sync": 46, "async": 170}, capacity_budget_s=120)  # budget: a repeat
    a_run(tmp_path, "20261123T052000Z-capacity", {"async": 999}, complete=False)
    a_run(tmp_path, "20261123T053000Z-capacity", {"async": 999}, source="other code")
    a_run(tmp_path, "20261123T054000Z-capacity", {"async": 999}, cpu_model="another machine")
    a_run(tmp_path, "20261123T055000Z-capacity", {"async": 999}, capacity_bound_ms=100.0)
    a_run(tmp_path, "20261123T056000Z-capacity", {"async": 999}, settings={"scoring-async": {"workers": 2}})
    a_run(tmp_path, "20261123T057000Z-locust")  # no capacity search
    a_run(tmp_path, "20261123T058000Z-capacity", {"sync": 0.0})  # a search that found no figure
    this = a_run(tmp_path, "20261123T060000Z-capacity", {"sync": 45, "async": 160})
    a_run(tmp_path, "20261123T070000Z-capacity", {"async": 999})  # after it
    found = history.record(this)
    names = ["20261123T058000Z-capacity", "20261123T051000Z-run", "20261123T050000Z-capacity"]  # newest first
    assert [r["run"] for r in found] == names and found[0]["capacity_qps"] == {}
    assert history.load(this) == found
    s = history.spread(found, "async", 144.0, 165.0)
    assert s == {"runs": 2, "median": 160, "min": 150, "max": 170, "outside": 1}
    assert history.text(s) == "150-170 QPS over 2 runs (median 160), 1 outside this run's interval"
    assert history.spread(found, "async", None, None)["outside"] is None


def test_no_earlier_runs_when_the_code_is_unknown(tmp_path):
    a_run(tmp_path, "20261123T050000Z-capacity", {"async": 150}, source=None)
    this = a_run(tmp_path, "20261123T060000Z-capacity", {"async": 160}, source=None)
    assert history.earlier(this) == []
    assert history.spread([], "async", 1.0, 2.0) is None and history.text(None) == "none"


def test_keeps_the_most_recent(tmp_path):
    for i in range(5):
        a_run(tmp_path, f"20261123T05{i}000Z-capacity", {"sync": 40 + i})
    this = a_run(tmp_path, "20261123T060000Z-capacity", {"sync": 45})
    assert [r["capacity_qps"]["sync"][0] for r in history.earlier(this, keep=3)] == [44, 43, 42]
