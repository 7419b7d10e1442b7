"""Quick checks of the container files that need no engine (tests/containers runs them for real).

The compose file, its per-tier CPU override, the one Dockerfile and the Makefile's targets agree with the
launcher's settings: ports published on 127.0.0.1, services found by name, every image one that
docker/build.sh builds; and the lock's exports are what uv.lock gives.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from lab import lockfile
from lab.stack import build_stack

ROOT = Path(__file__).resolve().parents[2]
STACK = build_stack()
# docker/build.sh's images, and make docker-build-servers's (docker/servers.Dockerfile)
BUILT = {f"ml-serving-lab-{n}" for n in (*STACK.names(), "lab", "model-servers")}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_only_images_the_lab_builds_published_on_loopback(compose):
    for name, svc in compose["services"].items():
        assert svc["image"] in BUILT, name
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)
        for value in svc.get("environment", {}).values():
            assert "localhost" not in str(value) and "127.0.0.1" not in str(value), (name, value)
    for name in STACK.names():  # the original lab's five services, at their ports
        port = STACK.redis.port if name == "redis" else STACK.service(name).settings.port
        assert compose["services"][name]["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_compose_scoring_handlers_wait_for_their_model_and_redis(compose):
    for chain in ("sync", "async"):
        svc = compose["services"][f"scoring-{chain}"]
        model = STACK.model(chain).settings
        prefix = type(STACK.scoring(chain).settings).model_config["env_prefix"]
        assert svc["environment"][f"{prefix}MODEL_URL"] == f"http://model-{chain}:{model.port}"
        assert svc["depends_on"] == {f"model-{chain}": {"condition": "service_healthy"},
                                     "redis": {"condition": "service_healthy"}}  # fmt: skip


def test_the_cpu_override_pins_only_services_of_the_compose_file(compose):
    override = yaml.safe_load((ROOT / "docker" / "compose.cpus.yml").read_text())["services"]
    assert set(override) <= set(compose["services"])
    assert {v["cpuset"] for v in override.values()} == {"0", "1"}


def test_one_dockerfile_builds_every_image_through_the_launcher():
    df = DockerfileParser(path=str(ROOT / "docker" / "lab.Dockerfile"))
    text = df.content
    assert "ARG BASE=python:3.11-slim" in text  # the official base where a registry is reachable
    assert re.search(r"^FROM \$\{BASE\} AS service$", text, re.M)
    assert 'exec python -m cli serve \\"$LAB_SERVICE\\" --host 0.0.0.0' in text  # the same launcher as make up
    assert "python -m cli health" in text and "--require-hashes" in text and "PIP_NO_INDEX=1" in text
    users = [i["value"] for i in df.structure if i["instruction"] == "USER"]
    assert users and all(u not in ("root", "0") for u in users)


def test_the_makefile_has_the_original_interface_on_loopback():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9 %-]*):", makefile, re.M))
    names = {t for line in targets for t in line.split()}
    wanted = {"docker-build", "docker-stop", "docker-run-scoring-async", "docker-run-scoring-sync", "compose-up",
              "compose-down", "compose-locust", "lock"}  # fmt: skip
    assert wanted <= names, wanted - names
    assert "docker-run-model-sync docker-run-model-async docker-run-redis: docker-run-%" in makefile
    for rule in re.findall(r"^\s+docker run .*$", makefile, re.M):
        assert re.search(r"-p 127\.0\.0\.1:", rule), rule


@pytest.mark.skipif(not shutil.which("uv") and not (Path(lockfile.sys.executable).with_name("uv")).exists(),
                    reason="uv is not installed (make installs it with the dev extra)")  # fmt: skip
def test_the_exports_under_requirements_are_what_the_lock_gives():
    assert lockfile.stale() == []
    assert len(lockfile.lock_hash()) == 64
