"""nginx in front of the scoring handlers (lab/proxy.py) on a real stack: the chains' contract through it, its own
errors in the lab's JSON shape, and a slowloris that captures the sync chain's gunicorn workers when they face
clients directly and captures nothing behind nginx."""

from __future__ import annotations

import time

import httpx
import pytest

from api_common.contract import SAMPLE
from benchmark.slowclients import slowloris
from benchmark.verify import verify
from lab import control, proxy
from lab.smoke import expected_prediction
from tests.conftest import lab_settings, make_stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(proxy.find_binary(proxy.ProxySettings()) is None, reason="nginx is not installed (make nginx)"),
]
SLOW = 40  # slow connections: many more than the sync handler's gunicorn sync workers (2 x cores + 1)
HOLD_S = 6.0  # under nginx's client_header_timeout (10 s): every slow connection is still open while we ask
FAST = 8  # fast requests, one after another, while the slow ones hold
MAX_BODY = 4096  # nginx's own body limit in this stack: a larger body is refused by nginx itself


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """Both chains behind nginx, and a plain sync handler (no proxy) beside them."""
    stack = make_stack(scoring_sync={"proxy": "nginx"}, scoring_async={"proxy": "nginx"},
                       proxy={"client_max_body_bytes": MAX_BODY})  # fmt: skip
    lab = lab_settings(tmp_path_factory.mktemp("proxied"))
    control.up(stack, lab, log=lambda *_: None)
    try:
        yield stack, lab
    finally:
        control.down(lab, log=lambda *_: None)


def _fast(url: str, timeout_s: float) -> list[tuple[int, float]]:
    """``FAST`` predictions one after another: each one's status (0: no answer within ``timeout_s``) and seconds."""
    out = []
    with httpx.Client(timeout=timeout_s) as client:
        for _ in range(FAST):
            t0 = time.monotonic()
            try:
                status = client.post(url, json=SAMPLE).status_code
            except httpx.HTTPError:
                status = 0
            out.append((status, time.monotonic() - t0))
    return out


def test_the_chains_answer_their_contract_through_nginx(proxied):
    stack, _ = proxied
    checks = verify(stack)  # health, the prediction computed locally, a 400 in the lab's shape: via nginx
    assert any(c.startswith("scoring-sync") for c in checks) and any(c.startswith("scoring-async") for c in checks)
    for chain in ("sync", "async"):
        via = httpx.post(stack.scoring(chain).predict_url, json=SAMPLE, timeout=10)
        direct = httpx.post(stack.scoring(chain).own_url + f"/api/v1/ml/{chain}/predict", json=SAMPLE, timeout=10)
        assert via.json()["detail"] == direct.json()["detail"] == pytest.approx(expected_prediction(stack, chain))
        assert stack.scoring(chain).url != stack.scoring(chain).own_url  # the two really are different listeners


def test_nginx_answers_its_own_errors_in_the_labs_shape(proxied):
    stack, lab = proxied
    url = stack.scoring("async").predict_url
    big = httpx.post(url, content=b"[" + b"1.0," * MAX_BODY + b"1.0]", timeout=10,
                     headers={"Content-Type": "application/json"})  # fmt: skip
    assert big.status_code == 413 and big.json()["error"] == "payload_too_large"
    # The handler behind it gone: nginx answers at once, 502 in the lab's shape, not a reset or an HTML page.
    handler = [r for r in control.state_file(lab).read() if r.name == "scoring-async"]
    control.stop(lab, handler)
    t0 = time.monotonic()
    gone = httpx.post(url, json=SAMPLE, timeout=10)
    assert gone.status_code == 502 and gone.json()["error"] == "bad_gateway"
    assert time.monotonic() - t0 < proxy.ProxySettings().proxy_connect_timeout_s + 1.0  # refused, not waited on
    assert gone.headers["content-type"].startswith("application/json")


def test_a_slowloris_captures_the_sync_handler_alone_and_nothing_behind_nginx(proxied, tmp_path):
    stack, _ = proxied
    # The sync chain behind nginx: every fast request answered, each within the handler's own deadline.
    front = stack.proxy("proxy-sync")
    settings = stack.scoring("sync").settings
    bound_s = settings.n_models * settings.model_timeout_s + 1.0  # its calls in sequence, each bounded; 1 s margin
    with slowloris(front.host, front.port, SLOW, HOLD_S) as slow:
        behind = _fast(stack.scoring("sync").predict_url, timeout_s=bound_s)
    assert slow.opened == SLOW and slow.closed_by_server == 0  # the slow ones were really held open, not refused
    assert all(status == 200 for status, _ in behind), behind
    # The same handler faced directly (its own port, as the README deployed it before): its workers are held by
    # the slow connections, so fast requests wait the whole hold.
    own = stack.scoring("sync").own_url
    host, port = own.removeprefix("http://").rsplit(":", 1)
    assert settings.worker_count() < SLOW
    with slowloris(host, int(port), SLOW, HOLD_S):
        direct = _fast(f"{own}/api/v1/ml/sync/predict", timeout_s=HOLD_S / FAST)
    assert sum(status == 200 for status, _ in direct) == 0, direct
