"""The original lab's Docker interface and compose, for real: built, run, asked, loaded, killed, and gone.

Against containers publishing on 127.0.0.1 only (the tier's conftest says where it skips, and why):
- the five ``make docker-run-*`` terminals answer the README's curl commands with ``make up``'s answers,
  at once (the Redis image carries the features), and ``make docker-stop`` leaves nothing;
- compose (its own bridge network, services found by name) answers the same, the job-queue chain too;
  fuzzed bodies get their 4xx JSON, never a 5xx; ``lab parity`` measures both chains in the images and in make up,
  interleaved;
- a model container whose service process is killed under load comes back (restart policy);
- distributed Locust (a master and two workers) writes its CSV and HTML into the run's folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from api_common.contract import SAMPLE, predict_path
from benchmark.loadgen import records
from lab.smoke import expected_prediction
from lab.stack import build_stack
from tests.containers import conftest as tier
from tests.containers.conftest import IMAGE, PORTS, QUEUE_PORT, ROOT, docker, make, wait_healthy
from tests.integration import test_readme as readme
from tests.reliability.test_fuzz import content_types, methods, raw_bodies

pytestmark = [pytest.mark.integration, pytest.mark.containers]

README = (ROOT / "README.md").read_text()
CHAIN_OF = {5000: "sync", 5001: "sync", 8000: "async", 8001: "async"}
DEFAULTS = build_stack()  # the stack `make up` starts, whose answers the containers must give
COMPOSE_UP_S = 240  # compose up waits for each tier's health in turn (scoring after model and Redis): 3 x 90 s


def curl_the_readme() -> int:
    """Run the README's five curl commands as written (localhost); return how many answered as ``make up``."""
    commands = readme.curl_commands()
    assert len(commands) == 5
    for cmd in commands:
        port = readme.readme_port(cmd)
        role = "scoring" if port in (5001, 8001) else "model"
        answer = readme.run_curl(cmd)
        readme.check_answer(DEFAULTS, role, CHAIN_OF[port], cmd, answer)
        if role == "scoring" and "predict" in cmd:
            assert answer["entity_id"] == DEFAULTS.redis.default_entity_id
    return len(commands)


def test_the_images_are_built_with_their_unit_tests_and_the_lock(images):
    for name in [*PORTS, "lab"]:
        assert docker("image", "inspect", f"{IMAGE}-{name}").returncode == 0
    # The unit tests ran in the build (as the original lab's did), and the service images share their layers.
    run = docker("run", "--rm", f"{IMAGE}-model-sync", "ls", "/tmp/unit-tests-passed")
    assert run.stdout.strip() == "/tmp/unit-tests-passed"
    layers = {n: docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", f"{IMAGE}-{n}").stdout for n in PORTS}
    shared = set.intersection(*(set(json.loads(v)) for v in layers.values()))
    assert len(shared) >= len(json.loads(layers["redis"])) - 1  # all but the last (service-specific) layer
    # Services carry only what services need: no load generator, no plots, no test runner.
    pkgs = docker("run", "--rm", f"{IMAGE}-scoring-async", "pip", "list", "--format", "freeze").stdout.lower()
    assert "flask==" in pkgs and "fastapi==" in pkgs
    for absent in ("locust", "matplotlib", "mlcommons-loadgen", "pytest"):
        assert f"{absent}==" not in pkgs
    # The same versions as this virtualenv: one lock.
    lock = (ROOT / "requirements" / "services.txt").read_text()
    assert re.search(r"^fastapi==([\w.]+)", lock, re.M).group(1) in re.search(r"fastapi==([\w.]+)", pkgs).group(0)


def test_the_original_interface_answers_as_make_up_does_and_docker_stop_leaves_nothing(images, tmp_path):
    terminals = [tier.Terminal(name, tmp_path / f"{name}.log") for name in ("redis", "model-sync", "model-async")]
    wait_healthy(["lab-redis", "lab-model-sync", "lab-model-async"])
    terminals += [tier.Terminal(name, tmp_path / f"{name}.log") for name in ("scoring-sync", "scoring-async")]
    try:
        wait_healthy([f"lab-{n}" for n in PORTS])
        # Published on loopback only.
        for name, port in PORTS.items():
            assert docker("port", f"lab-{name}").stdout.split() == [f"{port}/tcp", "->", f"127.0.0.1:{port}"]
        assert curl_the_readme() == 5  # at once: the features came in the Redis image
    finally:
        out = make("docker-stop")
        codes = [t.close() for t in terminals]
    assert out.returncode == 0
    assert all(code is not None for code in codes), codes  # each terminal's docker run ended by itself
    assert tier.ours() == [] and tier.networks() == []
    assert [p for p in PORTS.values() if tier.listening(p)] == []


@pytest.fixture(scope="module")
def compose(images):
    out = make("compose-up", "COMPOSE_PROFILES=queue", timeout=COMPOSE_UP_S + 60, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    project = [c for c in tier.ours() if c.startswith(f"{IMAGE}_")]
    assert len(project) == 7, project  # redis, both chains' two tiers, the job queue's two
    wait_healthy(project)
    yield project
    assert make("compose-down", timeout=180).returncode == 0


def test_compose_answers_as_make_up_does_on_its_own_network(compose, client):
    assert curl_the_readme() == 5
    # The job-queue chain: its scoring handler queues the model calls on Redis, a pool of workers answers.
    resp = client.post(f"http://127.0.0.1:{QUEUE_PORT}{predict_path('async')}", json=SAMPLE)
    assert resp.status_code == 200, resp.text
    assert resp.json()["detail"] == pytest.approx(expected_prediction(DEFAULTS, "async"), abs=1e-12)
    # The services reach one another by name on compose's bridge network, not through the host.
    env = docker("inspect", "-f", "{{json .Config.Env}}", f"{IMAGE}_scoring-sync_1").stdout
    assert "SCORING_SYNC_MODEL_URL=http://model-sync:5000" in env and "redis://redis:6379/0" in env
    nets = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", f"{IMAGE}_redis_1").stdout)
    assert list(nets) == [f"{IMAGE}_default"]


FUZZ_EXAMPLES = 200  # per endpoint: the bodies of tests/reliability/test_fuzz.py, through the container network


@pytest.mark.parametrize("port", sorted(CHAIN_OF))
def test_fuzzed_bodies_get_their_4xx_json_from_the_containers(compose, client, port):
    url = f"http://127.0.0.1:{port}{predict_path(CHAIN_OF[port])}"
    statuses: dict[int, int] = {}

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(method=methods, body=raw_bodies, ctype=content_types)
    def case(method, body, ctype):
        resp = client.request(method, url, content=body, headers={"Content-Type": ctype} if ctype else {})
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        assert resp.status_code < 500, (method, ctype, body[:200], resp.text[:300])
        if resp.status_code != 200:
            assert isinstance(resp.json().get("message"), str)

    case()
    assert sum(statuses.values()) >= FUZZ_EXAMPLES and any(400 <= s < 500 for s in statuses)


# Per search: a short search that still brackets the async chain's knee (about 350 QPS, reached from 40 QPS in six
# or seven brackets, the first 11.5 s: the 459 queries a pass needs) and refines it in one round; four searches.
CAPACITY_BUDGET_S = 120
CAPACITY_ROUNDS = 1


@pytest.mark.containers_full  # four capacity searches: about 5 minutes
def test_lab_parity_measures_both_chains_in_compose_and_make_up_interleaved(compose, tmp_path):
    """`lab parity` (make parity without its compose-up): the images' chains and make up's, four searches."""
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "lab"), "parity", "--capacity-budget-s", str(CAPACITY_BUDGET_S),
         "--capacity-rounds", str(CAPACITY_ROUNDS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=4 * CAPACITY_BUDGET_S * 2 + 180,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    runs = list(tmp_path.glob("results/*-parity"))
    assert len(runs) == 1, out.stdout[-2000:]
    for name in ("native-sync", "native-async", "image-sync", "image-async"):
        cap = records.load(runs[0] / "loadgen" / name)
        assert cap is not None and cap.qps > 0, (name, out.stdout[-2000:])
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert set(summary["chains"]) == {"sync", "async"}
    assert "image / make up" in (runs[0] / "report.html").read_text()


RATE_QPS = 20  # the load while the model process is killed: well under either chain's capacity
LOAD_S = 40.0  # bounded: the loop stops by itself
# Back within: Docker restarts a dead container at once (then backs off), the service starts in a few
# seconds, and the handler's next call after that succeeds. 30 s is the health check's whole window, as margin.
RECOVERY_S = 30.0


def test_a_killed_model_process_comes_back_and_the_handler_fails_fast_meanwhile(compose, client):
    container = f"{IMAGE}_model-async_1"
    restarts = int(docker("inspect", "-f", "{{.RestartCount}}", container).stdout)
    url = f"http://127.0.0.1:8001{predict_path('async')}"
    log: list[tuple[float, int, float]] = []  # (sent at, status or 0 for no answer, seconds)
    stop = threading.Event()

    def load():
        t_end = time.monotonic() + LOAD_S
        while not stop.is_set() and time.monotonic() < t_end:
            t0 = time.monotonic()
            try:
                status = client.post(url, json=SAMPLE).status_code
            except httpx.HTTPError:
                status = 0
            log.append((t0, status, time.monotonic() - t0))
            time.sleep(max(0.0, 1 / RATE_QPS - (time.monotonic() - t0)))

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(3)
    # The service's process is PID 1's child (compose's init): kill it from inside, as a crash would.
    killed_at = time.monotonic()
    docker("exec", container, "python", "-c",
           "import os, signal\n"
           "for p in os.listdir('/proc'):\n"
           "    if p.isdigit() and int(p) != os.getpid():\n"
           "        stat = open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()\n"
           "        if stat[1] == '1': os.kill(int(p), signal.SIGKILL)\n", check=False)  # fmt: skip
    back_at = None
    deadline = killed_at + RECOVERY_S + 10
    while time.monotonic() < deadline and back_at is None:
        time.sleep(0.2)
        failed_after = [t for t, s, _ in log if t > killed_at and s != 200]
        if failed_after:
            later_ok = [t for t, s, _ in log if t > max(failed_after) and s == 200]
            if len(later_ok) >= 5:
                back_at = later_ok[0]
    stop.set()
    thread.join(timeout=15)
    failed = [(s, d) for t, s, d in log if t > killed_at and s != 200]
    assert int(docker("inspect", "-f", "{{.RestartCount}}", container).stdout) == restarts + 1
    assert back_at is not None and back_at - killed_at < RECOVERY_S, (len(failed), back_at and back_at - killed_at)
    # Meanwhile the handler answered: a fast 5xx for its dead dependency, never a hang or a reset.
    assert failed and all(500 <= s < 600 for s, _ in failed), failed[:5]
    assert max(d for _, d in failed) < DEFAULTS.scoring("async").settings.model_timeout_s + 2.0
    print(f"killed model-async under {RATE_QPS} QPS: {len(failed)} failed requests, back after "
          f"{back_at - killed_at:.1f} s")  # fmt: skip
    wait_healthy([container])


LOCUST_S = 10


def test_distributed_locust_writes_its_csv_and_html_into_the_run_folder(compose, tmp_path):
    results = tmp_path / "locust"
    results.mkdir()
    results.chmod(0o777)  # written by the image's unprivileged user
    env = {"LOCUST_RESULTS": str(results), "LOCUST_TIME": f"{LOCUST_S}s", "LOCUST_USERS": "20", "LOCUST_WORKERS": "2"}
    out = make("compose-locust", *[f"{k}={v}" for k, v in env.items()], timeout=LOCUST_S + 180, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    stats = (results / "locust_stats.csv").read_text().splitlines()
    assert (results / "locust.html").stat().st_size > 1000
    header = stats[0].split(",")
    total = dict(zip(header, stats[-1].split(","), strict=False))
    assert total["Name"] == "Aggregated" and int(total["Request Count"]) > 0
    assert int(total["Failure Count"]) == 0
