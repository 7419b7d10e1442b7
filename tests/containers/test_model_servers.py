"""The model servers in containers (`make docker-build-servers`): compose's ``model-servers`` profile answers the
README's curl as `make up VARIANT=` does, and its ``ray`` profile runs a Ray cluster (a head offering no CPU, one
worker container) whose Serve replica sits on the worker, answering the same.

The lab's own processes of the same variant run beside compose on free ports (the variant's settings, as `make up
VARIANT=` starts them); a variant whose packages are not installed here (make servers) is skipped, saying so.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from api_common.contract import predict_path
from lab import control, variants
from tests.conftest import free_stack_ports, lab_settings, missing_variant
from tests.containers.conftest import IMAGE, docker, make, ours, wait_healthy
from tests.integration import test_readme as readme

pytestmark = [pytest.mark.integration, pytest.mark.containers, pytest.mark.containers_full]

VARIANT = "async-rayserve-text"  # compose's default MODEL_SERVER, and what the ray profile serves
PORTS = {"model-servers": 8004, "ray": 8005}  # each profile's scoring handler
# The servers' image: its wheelhouse from the lock (about 500 MB, 3 min here cold) and its build (2.5 min).
BUILD_TIMEOUT_S = 20 * 60
# A model server in a container answered its check in 23-45 s here (Ray, torch and the text model loading); compose
# gives it 120 s to start (x-slow-start); Ray's worker joins after its head.
HEALTHY_WITHIN_S = 240.0
BODIES = ([5.1, 3.5, 1.4, 0.2], {"entity_id": "42"})  # the README's curl body, and an entity of the feature store


@pytest.fixture(scope="module")
def servers_compose(images):
    skip = missing_variant(VARIANT)
    if skip:
        pytest.skip(skip.reason)
    out = make("docker-build-servers", timeout=BUILD_TIMEOUT_S, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    out = make("compose-up", "COMPOSE_PROFILES=model-servers,ray", "RAY_WORKERS=1", timeout=HEALTHY_WITHIN_S * 3,
               check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    project = [c for c in ours() if c.startswith(f"{IMAGE}_")]
    wait_healthy([c for c in project if "ray-worker" not in c], timeout=HEALTHY_WITHIN_S)
    yield project
    assert make("compose-down", timeout=180).returncode == 0


@pytest.fixture(scope="module")
def native_answers(tmp_path_factory) -> list[dict]:
    """The variant's answers from the lab's own processes (`make up VARIANT=`'s settings), on free ports."""
    stack = variants.stack_for(variants.get(VARIANT), free_stack_ports(entities=10_000))
    lab = lab_settings(tmp_path_factory.mktemp("native")).model_copy(update={"startup_timeout_s": 180})
    control.up(stack, lab, log=lambda *_: None)
    try:
        url = stack.scoring("async").predict_url
        return [httpx.post(url, json=body, timeout=30).json() for body in BODIES]
    finally:
        control.down(lab, log=lambda *_: None)


@pytest.mark.parametrize("profile", sorted(PORTS))
def test_a_model_server_in_compose_answers_as_make_up_variant_does(servers_compose, native_answers, profile):
    (curl,) = readme.curl_commands([PORTS[profile]])  # the README's own command for the profile, as written
    assert readme.run_curl(curl)["predictions"] == pytest.approx(native_answers[0]["predictions"], abs=1e-5)
    url = f"http://127.0.0.1:{PORTS[profile]}{predict_path('async')}"
    got = [httpx.post(url, json=body, timeout=30) for body in BODIES]
    assert [r.status_code for r in got] == [200, 200], [r.text[:300] for r in got]
    for answer, native in zip((r.json() for r in got), native_answers, strict=True):
        assert answer["entity_id"] == native["entity_id"]
        assert answer["predictions"] == pytest.approx(native["predictions"], abs=1e-5)  # the text model's float32


def test_the_ray_replica_runs_on_the_worker_container_not_the_head(servers_compose):
    head = f"{IMAGE}_ray-head_1"
    assert f"{IMAGE}_ray-worker_1" in servers_compose
    script = (
        "import json, ray; ray.init(address='auto', log_to_driver=False); "
        "print(json.dumps([ray.cluster_resources().get('CPU', 0), ray.available_resources().get('CPU', 0)]))"
    )
    deadline, cpus = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        out = docker("exec", head, "python", "-c", script, timeout=60, check=False)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("[")]
        if lines:
            cpus = json.loads(lines[-1])
            break
        time.sleep(2)
    # The head offers no CPU; the one worker offers one, and the one replica holds it.
    assert cpus == [1.0, 0], cpus
