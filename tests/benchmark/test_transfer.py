"""The report's transfer: each default chain's capacity predicted on bigger machines from the costs measured here."""

from __future__ import annotations

from benchmark.experiments.capacity import _transfer, transfer
from benchmark.snapshot import settings_snapshot
from lab.stack import build_stack


def _run(sync_cpu: float = 4.0, async_cpu: float = 5.0) -> tuple[dict, dict]:
    manifest = {"cpu_count": 2, "options": {"transfer_cores": "4,8,16"}, "settings": settings_snapshot(build_stack())}
    summary = {"capacity_bound_ms": 250.0, "chains": {
        "sync": {"capacity_cpu_ms_per_request": sync_cpu, "single_p50_ms": 102.0, "capacity_qps": 44.0},
        "async": {"capacity_cpu_ms_per_request": async_cpu, "single_p50_ms": 52.0, "capacity_qps": 350.0}}}  # fmt: skip
    return summary, manifest


def test_the_servers_defaults_and_both_chains_grow_with_the_cores():
    summary, manifest = _run()
    t = transfer(summary, manifest)
    sync, async_ = t["rows"]["sync"], t["rows"]["async"]
    assert [r["cores"] for r in sync] == [2, 4, 8, 16]
    assert [r["workers"] for r in sync] == [5, 9, 17, 33]  # gunicorn's sync workers: 2 x cores + 1
    assert [r["workers"] for r in async_] == [2, 4, 8, 16]  # one uvicorn worker per core
    assert all(r["bound_by"] == "slots" for r in sync) and all(r["bound_by"] == "cores" for r in async_)
    for rows in (sync, async_):  # both grow with the cores: the sync chain's workers do too
        qps = [r["qps"] for r in rows]
        assert qps == sorted(qps) and qps[-1] > 7 * qps[0]
    assert async_[0]["qps"] < 2 * 1000 / 5.0  # under cores / CPU per request: it waits at the bound
    text = _transfer(summary | {"transfer": t})
    assert text is not None and "predicted" in text.title and len(text.rows) == 4 and "measured here" in text.rows[0][4]


def test_no_transfer_without_the_measured_costs():
    summary, manifest = _run()
    summary["chains"]["async"]["capacity_cpu_ms_per_request"] = None
    t = transfer(summary, manifest)
    assert t is not None and "async" not in t["rows"] and _transfer(summary | {"transfer": t}) is None
