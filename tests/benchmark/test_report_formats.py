"""A run folder written before the manifest recorded what its variants declared (format 1) still rebuilds, with
the figures its own report gave.

The fixture is five variants of a real ``lab compare --variants alternatives`` run (2026-12-02, commit 76f76fd):
its manifest (settings trimmed to those five) and each variant's status and capacity search, as that code wrote
them, and ``expected.json``, what that code's report computed of them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark.report.build import build
from benchmark.rundir import load_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "compare-format-1"


def test_a_format_1_compare_folder_rebuilds_with_its_own_figures(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    assert load_manifest(run)["format"] == 1
    build(run)
    summary = json.loads((run / "summary.json").read_text())
    rows = {r["name"]: r for r in summary["variants"]}
    for name, want in json.loads((FIXTURE / "expected.json").read_text()).items():
        row = rows[name]
        for key in ("capacity_qps", "capacity_low", "capacity_high"):
            assert row[key] == pytest.approx(want[key]), (name, key)
        got = (row.get("vs_default") or {}).get("capacity")
        assert (got is None) == (want["vs_default"] is None), name
        if got:  # the ratio and its 95% interval as that report gave them (a verdict is now beside them)
            assert {k: got[k] for k in want["vs_default"]} == pytest.approx(want["vs_default"]), name
    # What it is, read as that report read it: the defaults by their names, the floors from their settings.
    assert {n for n, r in rows.items() if r["role"] == "default"} == {"async", "sync"}
    assert {n for n, r in rows.items() if r["floor"]} == {"async-floor"}
    assert summary["expected"]["models_ms"] == pytest.approx(40 + 10 * 2 / 3)
    html = (run / "report.html").read_text()
    assert "Verdict" in html and "Against each chain&#x27;s default" in html
