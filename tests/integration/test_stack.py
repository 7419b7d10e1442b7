"""The real stack (Redis, gunicorn, uvicorn in their own processes) on free ports."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from lab import control, processes
from lab.smoke import expected_prediction, smoke
from tests.conftest import lab_settings, make_stack, start, wait_for

pytestmark = pytest.mark.integration

# The original lab's README, verbatim; only the port is mapped to this test stack's.
CONTRACT = [
    ('curl "http://localhost:{p}/api/v1/healthcheck"', None),
    (
        'curl -X POST "http://localhost:{p}/api/v1/ml/{c}/predict" -H  "accept: application/json" '
        '-H  "Content-Type: application/json" -d "[5.1,3.5,1.4,0.2]"',
        None,
    ),
]
ORIGINAL_PORTS = {"model-sync": 5000, "scoring-sync": 5001, "model-async": 8000, "scoring-async": 8001}


def curl(command: str) -> dict:
    out = subprocess.run(shlex.split(command) + ["-s", "--max-time", "5"], capture_output=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.smoke
@pytest.mark.parametrize("name", list(ORIGINAL_PORTS))
def test_the_original_curl_commands_answer(running_stack, name):
    stack, _ = running_stack
    svc = stack.service(name)
    assert curl(CONTRACT[0][0].format(p=svc.settings.port)) == {"status": "OK"}
    body = curl(CONTRACT[1][0].format(p=svc.settings.port, c=svc.chain))
    assert isinstance(body["detail"], float) and 0 <= body["detail"] <= 1


@pytest.mark.smoke
def test_predictions_match_end_to_end(running_stack):
    stack, _ = running_stack
    results = smoke(stack)
    assert [r.chain for r in results] == ["sync", "async"]
    for r in results:
        assert r.status == 200 and r.prediction == pytest.approx(expected_prediction(stack, r.chain), abs=1e-12)


def test_index_and_docs(running_stack):
    stack, _ = running_stack
    for svc in stack.services:
        assert httpx.get(svc.url + "/").status_code == 200
        if svc.chain == "async":
            assert httpx.get(svc.url + "/docs").status_code == 200
            assert "/api/v1/ml/async/predict" in httpx.get(svc.url + "/openapi.json").json()["paths"]


ERRORS = [
    (b"[5.1, 3.5", "application/json", 400),
    (b"[]", "application/json", 422),
    (b'{"entity_id": "unknown-entity"}', "application/json", 404),
    (b"[1]", "text/plain", 415),
    (b"[" + b"1.0," * 20000 + b"1.0]", "application/json", 413),
]


@pytest.mark.smoke
@pytest.mark.parametrize(("body", "ctype", "status"), ERRORS, ids=[str(s) for *_, s in ERRORS])
def test_errors_are_the_same_in_both_chains(running_stack, body, ctype, status):
    stack, _ = running_stack
    replies = [
        httpx.post(stack.scoring(chain).predict_url, content=body, headers={"Content-Type": ctype}, timeout=5)
        for chain in ("sync", "async")
    ]
    assert [r.status_code for r in replies] == [status, status]
    assert replies[0].json()["error"] == replies[1].json()["error"]


@pytest.mark.smoke
def test_status_reports_every_service_healthy(running_stack):
    stack, lab = running_stack
    rows = control.status(stack, lab)
    assert [r.name for r in rows] == ["redis", *ORIGINAL_PORTS]
    assert all(r.running and r.healthy for r in rows)


def small_stack():
    one = {"workers": 1}
    return make_stack(model_sync=one, scoring_sync=one, model_async=one, scoring_async=one)


def test_dead_dependencies_give_502_and_503(tmp_path):
    stack = small_stack()
    lab = lab_settings(tmp_path)
    start(stack, lab)
    try:
        records = {r.name: r for r in control.state_file(lab).read()}
        processes.stop(records["model-sync"])
        reply = httpx.post(stack.scoring("sync").predict_url, json=[1.0], timeout=5)
        assert (reply.status_code, reply.json()["error"]) == (502, "model_unreachable")
        processes.stop(records["redis"])
        for chain in ("sync", "async"):
            reply = httpx.post(stack.scoring(chain).predict_url, json=[1.0], timeout=5)
            assert (reply.status_code, reply.json()["error"]) == (503, "feature_store_unavailable")
    finally:
        control.down(lab, log=lambda *_: None)


def lab_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, timeout=120)


def stack_env(stack, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_", "SCORING_", "REDIS_", "LAB_"))}
    env["LAB_STATE_DIR"] = str(tmp_path / "state")
    env["REDIS_PORT"] = str(stack.redis.port)
    env["REDIS_ENTITIES"] = "100"
    for svc in stack.services:
        env[f"{svc.name.replace('-', '_').upper()}_PORT"] = str(svc.settings.port)
        env[f"{svc.name.replace('-', '_').upper()}_WORKERS"] = "1"
    return env


def test_cli_run_then_down_leaves_no_process(tmp_path):
    stack = small_stack()
    env = stack_env(stack, tmp_path)
    run = lab_cli(["run", "--smoke-only"], env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "100 entities loaded" in run.stdout  # lab run loads them as it starts Redis
    assert run.stdout.count(" ok") == 2 and "make down" in run.stdout
    records = control.StateFile(tmp_path / "state" / "stack.json").read()
    assert len(records) == 5 and all(processes.alive(r) for r in records)
    assert lab_cli(["status"], env).returncode == 0
    down = lab_cli(["down"], env)
    assert down.returncode == 0
    assert not any(processes.alive(r) for r in records)
    assert lab_cli(["status"], env).returncode == 1


def test_a_taken_port_is_a_clear_error(tmp_path):
    stack = small_stack()
    env = stack_env(stack, tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", stack.scoring("async").settings.port))
        holder.listen()
        up = lab_cli(["up"], env)
    assert up.returncode == 2
    assert f"port {stack.scoring('async').settings.port}" in up.stderr and "scoring-async" in up.stderr
    assert "Traceback" not in up.stderr


def test_stale_processes_from_a_crashed_lab_are_cleaned_up(tmp_path):
    stack = small_stack()
    lab = lab_settings(tmp_path)
    start(stack, lab)
    crashed = control.state_file(lab).read()
    try:
        # The lab "crashed": its state file remains and its processes still run. The next up cleans them.
        env = stack_env(stack, tmp_path)
        processes.stop(crashed[-1])  # one service died with it, so the stack is not healthy
        up = lab_cli(["up"], env)
        assert up.returncode == 0, up.stderr
        assert "stale" in up.stdout
        assert not any(processes.alive(r) for r in crashed)
    finally:
        lab_cli(["down"], stack_env(stack, tmp_path))


def test_ctrl_c_during_up_leaves_no_process(tmp_path):
    import signal
    import time

    stack = small_stack()
    env = stack_env(stack, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    state = control.StateFile(tmp_path / "state" / "stack.json")
    deadline = time.monotonic() + 30
    while not state.read() and time.monotonic() < deadline:
        time.sleep(0.005)
    started = state.read()
    assert started, "lab up recorded no process"
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=30) == 130
        assert not any(processes.alive(r) for r in started)
        assert state.read() == []
        # Nothing of this lab run is alive, recorded or not: every process carries its ownership tag.
        owners = {r.owner for r in started}
        assert not [p for p in _lab_processes() if p in owners]
    finally:
        lab_cli(["down"], env)


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample, matched by metric name and a subset of its labels."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_every_request_across_workers(running_stack):
    stack, _ = running_stack
    for chain in ("sync", "async"):
        scoring = stack.scoring(chain)
        path = f"/api/v1/ml/{chain}/predict"
        before = _sample(httpx.get(scoring.url + "/metrics").text, "lab_http_requests_total", route=path, status="200")
        n = 12  # more than one worker's share: the count must add up over every worker process
        for _ in range(n):
            assert httpx.post(scoring.predict_url, json=[1.0], timeout=5).status_code == 200
        text = httpx.get(scoring.url + "/metrics").text
        assert _sample(text, "lab_http_requests_total", route=path, status="200") - before == n
        assert _sample(text, "lab_http_request_duration_seconds_count", route=path) >= n
        assert _sample(text, "lab_scoring_step_duration_seconds_count", step="redis") >= n
        assert _sample(text, "lab_scoring_step_duration_seconds_count", step="models") >= n
        model_text = httpx.get(stack.model(chain).url + "/metrics").text
        assert _sample(model_text, "lab_http_requests_total", route=path, status="200") >= 2 * n
        assert "lab_http_requests_in_flight" in text


def _lab_processes() -> list[str]:
    """Ownership tags of the live processes on this machine that carry one (read from /proc)."""
    tags = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = open(f"/proc/{entry}/environ", "rb").read()
            except OSError:
                continue
            for item in environ.split(b"\0"):
                if item.startswith(b"LAB_OWNER="):
                    tags.append(item[10:].decode())
    return tags


def test_a_dead_gunicorn_worker_leaves_no_live_gauge_behind(tmp_path):
    stack = make_stack(model_sync={"workers": 2})
    lab = lab_settings(tmp_path)
    control.start(stack, lab, ["model-sync"], log=lambda *_: None)
    try:
        record = next(r for r in control.state_file(lab).read() if r.name == "model-sync")
        workers = [p for p in processes.members(record) if p != record.pid]
        folder = lab.state_dir / "metrics" / "model-sync"
        wait_for(lambda: all((folder / f"gauge_livesum_{p}.db").exists() for p in workers))
        os.kill(workers[0], signal.SIGKILL)
        wait_for(lambda: not (folder / f"gauge_livesum_{workers[0]}.db").exists())
        wait_for(lambda: httpx.get(stack.model("sync").health_url, timeout=2).status_code == 200)
        assert (folder / f"gauge_livesum_{workers[1]}.db").exists()  # only the dead worker's file goes
    finally:
        control.down(lab, log=lambda *_: None)
