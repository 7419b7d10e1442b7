"""Variants and sweeps: a sweep's points set exactly the settings of their axes, in the right tier."""

from __future__ import annotations

import pytest

from api_common.jobqueue import stream
from cli import main as cli
from lab import variants


def test_a_sweep_grid_is_every_combination_of_its_axes():
    points = variants.sweep("async-batch-cpu", {"max_wait_ms": (0, 2.5), "max_batch_size": (8, 32)})
    assert [p.name for p in points] == [
        "async-batch-cpu-wait0-cap8", "async-batch-cpu-wait0-cap32", "async-batch-cpu-wait2.5-cap8",
        "async-batch-cpu-wait2.5-cap32",
    ]  # fmt: skip
    base = variants.get("async-batch-cpu")
    for p in points:
        assert p.chain == "async" and p.scoring == base.scoring
        assert {k: v for k, v in p.model.items() if k not in ("max_wait_ms", "max_batch_size")} == {
            k: v for k, v in base.model.items() if k not in ("max_wait_ms", "max_batch_size")
        }
    assert points[2].model["max_wait_ms"] == 2.5 and points[2].model["max_batch_size"] == 8
    settings = variants.stack_for(points[1]).model("async").settings
    assert (settings.max_wait_ms, settings.max_batch_size, settings.kind) == (0, 32, "cpu")


def test_the_worker_sweep_sets_the_scoring_workers():
    points = variants.sweep("async", {"workers": (1, 3)})
    assert [p.name for p in points] == ["async-w1", "async-w3"]
    assert [variants.stack_for(p).scoring("async").settings.worker_count() for p in points] == [1, 3]


@pytest.mark.parametrize(
    ("argv", "grid"),
    [
        (["--sweep", "async"], {"workers": variants.SWEEP_WORKERS}),
        (["--sweep", "async", "--workers", "1,2"], {"workers": (1, 2)}),
        (["--sweep", "async-batch", "--max-wait-ms", "0,2.5", "--batch-caps", "8"],
         {"max_wait_ms": (0, 2.5), "max_batch_size": (8,)}),
    ],
)  # fmt: skip
def test_the_compare_flags_give_the_sweep_grid(argv, grid):
    args = cli.parser().parse_args(["compare", *argv])
    assert cli._sweep_grid(args) == grid


def test_two_model_tiers_in_one_redis_have_their_own_job_streams():
    assert stream("http://127.0.0.1:8000") == stream("http://model-async:8000")  # the same tier, seen from two sides
    assert stream("http://127.0.0.1:8000") != stream("http://127.0.0.1:8010")


def test_model_server_variants_are_wired_to_their_servers_protocol_paths_and_health():
    from lab import variants

    preset = [v.name for v in variants.expand(["model-servers"])]
    assert {"async-text", "async-batch-text", "async-queue-text"} <= set(preset)
    for server in variants.MODEL_SERVERS:
        assert f"async-{server}-text" in preset
    ts = variants.stack_for(variants.get("async-torchserve-torch"))
    assert ts.scoring("async").settings.model_path == "/predictions/scorer"
    assert ts.scoring("async").settings.model_protocol == "json"
    assert ts.model("async").health_url.endswith("/predictions/scorer") and ts.model("async").health_json
    triton = variants.stack_for(variants.get("async-triton-torch"))
    assert triton.scoring("async").settings.model_protocol == "kserve"
    assert (
        triton.model("async").health_url.endswith("/v2/models/scorer/ready") and not triton.model("async").health_json
    )
    ray = variants.stack_for(variants.get("async-rayserve-text"))
    assert ray.scoring("async").settings.model_protocol == "lab"  # Ray Serve takes the lab's own contract
    for name in preset:
        v = variants.get(name)
        described = v.describe()
        if "-" in name.removeprefix("async-") and not name.startswith(("async-batch", "async-queue")):
            assert described.batching and described.baseline == f"async-{described.model_kind}"


def test_a_model_server_that_is_not_installed_says_how_to_install_it(monkeypatch, tmp_path):
    from lab import variants

    monkeypatch.setenv("LAB_TRITON_PYTHON", str(tmp_path / "no-python"))
    assert any("make servers" in m for m in variants.get("async-triton-torch").missing())
