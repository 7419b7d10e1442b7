"""Dynamic batching on real processes: concurrent predictions to a model API are answered in batches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api_model.model import score
from lab import control, processes, variants
from tests.conftest import lab_settings, make_stack

pytestmark = pytest.mark.integration


def _sample(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


@pytest.mark.parametrize("chain", ["sync", "async"])
def test_concurrent_predictions_are_answered_in_batches(chain, tmp_path):
    """The chain's batch variant with a 200 ms wait: 8 predictions sent at once share model calls, each
    answered with its own score; /metrics counts fewer model calls than predictions."""
    v = variants.get(f"{chain}-batch")
    stack = make_stack(**{f"model_{chain}": v.model | {"max_wait_ms": 200, "max_batch_size": 8}})
    lab = lab_settings(tmp_path)
    records = control.start(stack, lab, ["redis", f"model-{chain}"], log=lambda *_: None)
    try:
        url = stack.model(chain).predict_url

        def call(x: int) -> float:
            reply = httpx.post(url, json=[float(x), 1.0], timeout=10)
            assert reply.status_code == 200, reply.text
            return reply.json()["detail"]

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(call, range(8)))
        assert answers == pytest.approx([score("default", [float(x), 1.0]) for x in range(8)], abs=1e-12)
        text = httpx.get(stack.model(chain).url + "/metrics", timeout=5).text
        calls, items = _sample(text, "model_batch_size_count"), _sample(text, "model_batch_size_sum")
        assert items >= 8 and calls < items  # some model call answered more than one prediction
    finally:
        control.stop(lab, records)
    assert not any(processes.alive(r) for r in records)
