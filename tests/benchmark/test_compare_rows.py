"""What a variant is comes from the manifest: as declared (format 2), or as a format-1 run's report read it."""

from __future__ import annotations

from dataclasses import asdict

from benchmark.report import compare_targets
from benchmark.report.compare_rows import described
from lab import variants


def _manifest(names: list[str], described_by: dict, sweep: dict | None = None, settings: dict | None = None) -> dict:
    return {"options": {"variants": names, "described": described_by, "sweep": sweep}, "settings": settings or {}}


def test_a_declared_variant_is_read_as_it_declared_itself():
    chosen = variants.expand(["async-batch-cpu", "sync-seed", "async-floor"])
    m = _manifest([v.name for v in chosen], {v.name: asdict(v.describe()) for v in chosen})
    batch, seed, floor = (described(m, v.name) for v in chosen)
    assert (batch.batching, batch.baseline, batch.model_kind, batch.default) == (True, "async-cpu", "cpu", "async")
    assert (seed.role, seed.chain, seed.floor) == ("original", "sync", False)
    assert floor.floor and not floor.batching


def test_a_new_variant_needs_no_name_pattern():
    """A variant named like nothing the report knows is still a floor, a batching row with its twin, and so on."""
    v = variants.Variant("zz-top", "async", "a floor under another name", model={"app": "bare", "max_wait_ms": 2.0},
                         scoring={"app": "bare"}, baseline="async-floor")  # fmt: skip
    d = described(_manifest(["zz-top"], {"zz-top": asdict(v.describe())}), "zz-top")
    assert (d.floor, d.batching, d.baseline, d.default) == (True, True, "async-floor", "async")


def test_a_format_1_run_is_read_as_its_report_then_read_it():
    names = ["async", "async-seed", "async-batch-cpu", "sync-queue", "async-batch-wait5", "sync-floor"]
    settings = {
        "async-batch-cpu": {"model-async": {"kind": "cpu", "max_wait_ms": 5.0}},
        "sync-queue": {"model-sync": {"server": "queue_workers"}},
        "async-batch-wait5": {"model-async": {"max_wait_ms": 5.0}},
        "sync-floor": {"scoring-sync": {"app": "bare"}},
    }
    known = {n: {"chain": n.split("-")[0], "change": "", "baseline": ""} for n in names}
    sweep = {"variant": "async-batch", "axes": {"max_wait_ms": [5]}, "points": ["async-batch-wait5"]}
    m = _manifest(names, known, sweep, settings)
    got = {n: described(m, n) for n in names}
    assert got["async"].role == "default" and got["async-seed"].role == "original"
    assert (got["async-batch-cpu"].baseline, got["async-batch-cpu"].model_kind) == ("async-cpu", "cpu")
    assert got["sync-queue"].batching and got["sync-queue"].baseline == "sync"
    assert got["async-batch-wait5"].baseline == "async" and got["async-batch-wait5"].swept == "async-batch"
    assert got["sync-floor"].floor and got["sync-floor"].default == "sync"


def test_the_expected_p50_follows_the_settings_not_a_constant():
    def manifest(fanout: str, n: int, low: float = 40, high: float = 50) -> dict:
        settings = {"model-async": {"latency_min_ms": low, "latency_max_ms": high, "kind": "io"},
                    "scoring-async": {"n_models": n, "fanout": fanout}}  # fmt: skip
        return {
            "options": {"described": {"async": {"chain": "async", "role": "default"}}},
            "settings": {"async": settings},
        }

    assert compare_targets.expected(manifest("concurrent", 2))["models_ms"] == 40 + 10 * 2 / 3  # the old 46.67
    assert compare_targets.expected(manifest("concurrent", 3, 10, 20))["models_ms"] == 10 + 10 * 3 / 4
    assert compare_targets.expected(manifest("sequential", 2))["models_ms"] == 90
