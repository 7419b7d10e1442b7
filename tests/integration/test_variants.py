"""Every variant starts, answers the chains' contract (right prediction, same errors) and stops cleanly."""

from __future__ import annotations

import httpx
import pytest

from api_common.contract import SAMPLE
from lab import control, processes, variants
from lab.smoke import expected_prediction
from tests.conftest import free_stack_ports, lab_settings, missing_variant, outcome, run_cases

pytestmark = pytest.mark.integration


# A model server's variants run in tests/integration/test_model_servers.py (each in a loopback-only namespace).
CONTRACT = [n for n, v in variants.VARIANTS.items() if v.model.get("server") not in variants.MODEL_SERVERS]
# Variants checked at once, each on its own free ports with its own state folder: most of a check is waiting for
# workers to start, so three at a time take about half as long as one after the other on two cores.
AT_ONCE = 3


def _check(name: str, path) -> str | None:
    """Start ``name``'s chain, check its contract, stop it; None when it passes, else what went wrong."""
    variant = variants.get(name)
    stack = variants.stack_for(variant, free_stack_ports(entities=50))
    lab = lab_settings(path)
    chain = variant.chain
    records = control.start(stack, lab, ["redis", *stack.chain_names(chain)], log=lambda *_: None)
    try:
        url = stack.scoring(chain).predict_url
        reply = httpx.post(url, json=SAMPLE, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.json()["detail"] == pytest.approx(expected_prediction(stack, chain), abs=1e-12)
        if stack.scoring(chain).settings.server_timing:  # an ablation step past "timing" has turned it off
            assert "models;dur=" in reply.headers["server-timing"]
        else:
            assert "server-timing" not in reply.headers
        obj = httpx.post(url, json={"entity_id": "7", "features": [1.0]}, timeout=10)
        assert obj.status_code == 200 and obj.json()["entity_id"] == "7"
        bad = httpx.post(url, json={"entity_id": "missing"}, timeout=10)
        assert (bad.status_code, bad.json()["error"]) == (404, "entity_not_found")
    finally:
        control.stop(lab, records)
    assert not any(processes.alive(r) for r in records)
    assert control.state_file(lab).read() == []
    return None


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> dict:
    """Every installed variant's check, run ``AT_ONCE`` at a time: None, its failure, or a skip reason."""
    tmp_path_factory.getbasetemp()  # made once, before the threads (two making it at once made two)
    return run_cases(CONTRACT, lambda name: _check(name, tmp_path_factory.mktemp(name)), AT_ONCE, missing_variant)


@pytest.mark.parametrize("name", CONTRACT)
def test_variant_answers_the_contract(name, checked):
    outcome(checked[name])


def test_variants_are_declarative_and_presets_resolve():
    for preset in variants.PRESETS:
        assert variants.expand([preset])
    seed = variants.get("async-seed")
    assert seed.scoring["http_client"] == "per_request" and seed.scoring["redis_blocking"] is True
    assert variants.get("sync-gthread").concurrency() == variants.SYNC_WORKERS * 8
    assert variants.get("async").concurrency() is None
    with pytest.raises(KeyError, match="unknown variant"):
        variants.get("nope")
