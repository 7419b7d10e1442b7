"""The FastAPI services' OpenAPI documents tell the truth: schemathesis, every check, against a running stack.

Every status a path can answer is documented with the lab's error schema; a request the schema accepts is
not refused, one it refuses is; a method no path serves gets a 405 with ``Allow``. The seed is fixed, so a
failure replays; the models answer in about 1 ms, so a few hundred cases per service take seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lab import control
from tests.conftest import lab_settings, make_stack, start

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
FAST_MODEL = {"latency_min_ms": 0.5, "latency_max_ms": 1}
SEED = 20261202
EXAMPLES = 150  # per operation and phase: 300 to 700 cases per service
TIMEOUT_S = 600  # the whole run, on a busy machine (it took under a minute idle)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = make_stack(model_async=FAST_MODEL, model_sync=FAST_MODEL)
    lab = lab_settings(tmp_path_factory.mktemp("schema"))
    start(stack, lab)
    try:
        yield stack
    finally:
        control.down(lab, log=lambda *_: None)


@pytest.mark.parametrize("name", ["model-async", "scoring-async"])
def test_schemathesis_finds_nothing(stack, name, tmp_path):
    url = stack.service(name).url
    st = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [str(st), "--no-color", "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--checks", "all",
         "--seed", str(SEED), "--max-examples", str(EXAMPLES)],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    summary = run.stdout[run.stdout.find("SUMMARY") :]
    assert run.returncode == 0, run.stdout[-6000:]
    assert "No issues found" in summary
    generated = int(summary.split(" generated")[0].rsplit(None, 1)[-1])
    assert generated >= 200, summary  # a few hundred cases, not a handful
