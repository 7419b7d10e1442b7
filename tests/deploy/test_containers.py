"""Static checks of the container files: no engine runs here, so they must be right by construction.

The compose file and every Dockerfile are parsed and compared with the launcher's own settings:
ports, commands (``python -m lab serve NAME``), service discovery by name, health checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from api_model.settings import ModelAsyncSettings, ModelSyncSettings
from api_scoring.settings import ScoringAsyncSettings, ScoringSyncSettings
from lab.stack import build_stack

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {
    "model-sync": ModelSyncSettings,
    "scoring-sync": ScoringSyncSettings,
    "model-async": ModelAsyncSettings,
    "scoring-async": ScoringAsyncSettings,
}
SERVE = lambda name: ["python", "-m", "lab", "serve", name]  # noqa: E731


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _dockerfile(name: str) -> DockerfileParser:
    parser = DockerfileParser(path=str(ROOT / "docker" / f"{name}.Dockerfile"))
    return parser


@pytest.mark.parametrize("name", list(SETTINGS))
def test_dockerfile_parses_and_starts_through_the_launcher(name):
    df = _dockerfile(name)
    instructions = [i["instruction"] for i in df.structure]
    port = SETTINGS[name]().port
    assert df.baseimage.startswith("python:3.1") and "slim" in df.baseimage
    assert "USER" in instructions and df.structure[-1]["instruction"] == "CMD"
    user = [i["value"] for i in df.structure if i["instruction"] == "USER"][-1]
    assert user not in ("root", "0")
    assert [i["value"] for i in df.structure if i["instruction"] == "EXPOSE"] == [str(port)]
    cmd = [i for i in df.structure if i["instruction"] == "CMD"][-1]["value"]
    assert yaml.safe_load(cmd) == SERVE(name)
    health = [i["value"] for i in df.structure if i["instruction"] == "HEALTHCHECK"][0]
    assert f"127.0.0.1:{port}/api/v1/healthcheck" in health
    prefix = SETTINGS[name].model_config["env_prefix"]
    assert df.envs[f"{prefix}HOST"] == "0.0.0.0" and df.envs[f"{prefix}PORT"] == str(port)
    # Dependencies are installed before the sources are copied: a cached layer.
    copies = [i for i, ins in enumerate(df.structure) if ins["instruction"] == "COPY"]
    pip = next(
        i for i, ins in enumerate(df.structure) if ins["instruction"] == "RUN" and "requirements" in ins["value"]
    )
    assert df.structure[copies[0]]["value"].startswith("pyproject.toml") and copies[0] < pip < copies[1]
    assert any("pytest" in ins["value"] for ins in df.structure if ins["instruction"] == "RUN")


@pytest.mark.parametrize("name", list(SETTINGS))
def test_compose_service_matches_the_launcher(compose, name):
    svc = compose["services"][name]
    settings = SETTINGS[name]()
    prefix = settings.model_config["env_prefix"]
    assert svc["command"] == SERVE(name)
    assert svc["build"]["dockerfile"] == f"docker/{name}.Dockerfile"
    assert svc["ports"] == [f"127.0.0.1:{settings.port}:{settings.port}"]
    env = svc["environment"]
    assert env[f"{prefix}HOST"] == "0.0.0.0" and env[f"{prefix}PORT"] == str(settings.port)
    if name.startswith("scoring"):
        chain = name.split("-")[1]
        model = SETTINGS[f"model-{chain}"]()
        assert env[f"{prefix}MODEL_URL"] == f"http://model-{chain}:{model.port}"
        assert env[f"{prefix}REDIS_URL"] == "redis://redis:6379/0"
        assert svc["depends_on"] == {f"model-{chain}": {"condition": "service_healthy"},
                                     "redis": {"condition": "service_healthy"}}  # fmt: skip
    for value in env.values():
        assert "localhost" not in str(value) and "127.0.0.1" not in str(value)


def test_compose_has_redis_and_distributed_locust(compose):
    services = compose["services"]
    assert set(SETTINGS) | {"redis", "locust-master", "locust-worker"} <= set(services)
    assert services["redis"]["ports"] == [f"127.0.0.1:{build_stack().redis.port}:6379"]
    assert "--master" in services["locust-master"]["command"]
    worker = services["locust-worker"]["command"]
    assert "--worker" in worker and worker[worker.index("--master-host") + 1] == "locust-master"


def test_makefile_has_every_target():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))
    wanted = {"run", "test", "up", "down", "status", "bench", "compare", "docker-build", "docker-run-model-async",
              "docker-run-model-sync", "docker-run-scoring-async", "docker-run-scoring-sync", "docker-run-redis",
              "docker-stop"}  # fmt: skip
    assert wanted <= targets, wanted - targets
    for name, port in (("model-sync", 5000), ("scoring-sync", 5001), ("model-async", 8000), ("scoring-async", 8001)):
        rule = makefile.split(f"docker-run-{name}:", 1)[1].split("\n\n", 1)[0]
        assert f"-p {port}:{port}" in rule
