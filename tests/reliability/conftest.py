from __future__ import annotations

import pytest

from lab import control
from tests.conftest import lab_settings, make_stack, start

FAST_MODEL = {"latency_min_ms": 0.5, "latency_max_ms": 1, "workers": 2}


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    """A real stack whose models answer in about 1 ms, so thousands of cases run quickly."""
    stack = make_stack(model_sync=FAST_MODEL, model_async=FAST_MODEL, scoring_sync={"workers": 2})
    lab = lab_settings(tmp_path_factory.mktemp("fuzz"))
    start(stack, lab)
    try:
        yield stack
    finally:
        control.down(lab, log=lambda *_: None)
