"""Each model server runs the async chain in a network namespace with only a loopback interface (benchmark/offline.py):
it starts (nothing fetched: no route leaves the namespace), answers the same prediction as the lab's own model
API on the same backend (benchmark/verify.py checks both tiers), forms batches larger than one under 64
concurrent clients, and leaves nothing running once stopped, its escaped processes (Ray's workers) included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab import variants
from tests.conftest import missing_variant, outcome, run_cases

pytestmark = pytest.mark.integration

# One variant per server, its cheapest model to load (the text model is the only one LitServe and Ray Serve have).
SERVER_VARIANTS = ["async-bentoml-xgboost", "async-litserve-text", "async-rayserve-text", "async-torchserve-torch",
                   "async-triton-torch"]  # fmt: skip
LOAD_S = 3.0
# A model server's start (MODEL_SERVER_STARTUP_S) and stop, the verification and the load, with room for a busy
# machine: the run is bounded by this, and stops itself well before.
RUN_BOUND_S = 240


# Three at once (each in its own namespace, on its own ports): the five one after the other took 100 s here.
AT_ONCE = 3


def _offline(name: str, state: Path) -> tuple[int, str, str]:
    env = os.environ | {"LAB_STATE_DIR": str(state)}
    cmd = [sys.executable, "-m", "benchmark.offline", name, "--clients", "64", "--seconds", str(LOAD_S)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_BOUND_S, env=env)
    return run.returncode, run.stdout, run.stderr


@pytest.fixture(scope="module")
def offline_runs(tmp_path_factory) -> dict:
    """Each installed server's offline run, keyed by variant; a skip reason for one that is not installed."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare and ip (util-linux, iproute2) are needed for a loopback-only namespace")
    tmp_path_factory.getbasetemp()  # made once, before the threads (two making it at once made two)
    return run_cases(SERVER_VARIANTS, lambda n: _offline(n, tmp_path_factory.mktemp(n)), AT_ONCE, missing_variant)


@pytest.mark.parametrize("name", SERVER_VARIANTS)
def test_model_server_serves_offline_batches_and_stops_clean(name, offline_runs):
    returncode, stdout, stderr = outcome(offline_runs[name])
    assert returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    variant = variants.get(name)
    assert out["interfaces"] == ["lo"]  # the namespace had no way out
    assert len(out["checks"]) == 2  # both tiers: health, the same prediction as the backend in process, errors
    assert int(out["statuses"].get("200", 0)) > 0
    broken = {k for k in out["statuses"] if k.startswith("5") and k not in ("503", "504")}
    assert not broken, out["errors"]  # shed or late, not broken
    assert out["batches"] is not None and out["batches"]["items"] > out["batches"]["calls"]  # batches beyond one item
    assert out["processes_while_up"][f"model-{variant.chain}"] >= 1
    assert out["left_running"] == []
