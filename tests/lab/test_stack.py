"""The stack's wiring and the launcher's commands: one source of truth for how services start."""

import pytest

from api_common.settings import cpu_count
from api_scoring.settings import ScoringSyncSettings
from lab import launcher
from lab.stack import BadTargetUrl, build_stack


def test_default_ports_are_the_original_labs():
    stack = build_stack()
    ports = {s.name: s.settings.port for s in stack.services}
    assert ports == {"model-sync": 5000, "scoring-sync": 5001, "model-async": 8000, "scoring-async": 8001}
    assert stack.redis.port == 6379
    assert all(s.settings.host == "127.0.0.1" for s in stack.services)


def test_scoring_is_wired_to_its_model_and_redis():
    stack = build_stack({"model-sync": {"port": 15000}, "redis": {"port": 16379, "key_prefix": "x:"}})
    scoring = stack.scoring("sync").settings
    assert scoring.model_url == "http://127.0.0.1:15000"
    assert scoring.redis_url == "redis://127.0.0.1:16379/0"
    assert scoring.key_prefix == "x:"


def test_external_redis_url_is_used_and_not_started():
    stack = build_stack({"redis": {"url": "redis://10.1.2.3:6380/1"}})
    assert "redis" not in stack.names()
    assert stack.scoring("async").settings.redis_url == "redis://10.1.2.3:6380/1"


def test_explicit_model_url_is_kept():
    stack = build_stack({"scoring-sync": {"model_url": "http://models:5000"}})
    assert stack.scoring("sync").settings.model_url == "http://models:5000"


def test_settings_round_trip_through_the_environment(monkeypatch):
    original = ScoringSyncSettings(port=1234, n_models=3, model_timeout_s=0.25, fanout="concurrent")
    for name, value in original.to_env().items():
        monkeypatch.setenv(name, value)
    assert ScoringSyncSettings() == original


def test_default_workers():
    stack = build_stack()
    assert stack.service("model-sync").settings.worker_count() == 2 * cpu_count() + 1
    assert stack.service("scoring-async").settings.worker_count() == cpu_count()


def test_gunicorn_command(tmp_path):
    stack = build_stack({"scoring-sync": {"port": 15001, "workers": 3}})
    cmd = launcher.command(stack, "scoring-sync", tmp_path)
    assert cmd[1:4] == ["-m", "gunicorn", "api_scoring.flask_app:create_app()"]
    assert "127.0.0.1:15001" in cmd and cmd[cmd.index("--workers") + 1] == "3"
    # Each service must not share gunicorn's default control socket with another.
    assert "--no-control-socket" in cmd or "--control-socket" in cmd


def test_uvicorn_command(tmp_path):
    cmd = launcher.command(build_stack(), "model-async", tmp_path)
    assert cmd[1:5] == ["-m", "uvicorn", "api_model.fastapi_app:create_app", "--factory"]
    assert cmd[cmd.index("--loop") + 1] == "uvloop" and cmd[cmd.index("--http") + 1] == "httptools"


def test_a_keepalive_setting_reaches_each_servers_own_flag_and_none_leaves_their_defaults(tmp_path):
    kept = build_stack({"scoring-sync": {"keepalive_s": 7}, "scoring-async": {"keepalive_s": 7},
                        "model-sync": {"server": "waitress", "threads": 4, "keepalive_s": 7.4}})  # fmt: skip
    gunicorn = launcher.command(kept, "scoring-sync", tmp_path)
    uvicorn = launcher.command(kept, "scoring-async", tmp_path)
    assert gunicorn[gunicorn.index("--keep-alive") + 1] == "7"
    assert uvicorn[uvicorn.index("--timeout-keep-alive") + 1] == "7"
    assert "--channel-timeout=7" in launcher.command(kept, "model-sync", tmp_path)
    plain = build_stack()
    assert "--keep-alive" not in launcher.command(plain, "scoring-sync", tmp_path)
    assert "--timeout-keep-alive" not in launcher.command(plain, "scoring-async", tmp_path)


def test_redis_command_has_no_persistence(tmp_path):
    cmd = launcher.command(build_stack(), "redis", tmp_path)
    assert cmd[cmd.index("--save") + 1] == "" and cmd[cmd.index("--appendonly") + 1] == "no"
    assert cmd[cmd.index("--bind") + 1] == "127.0.0.1" and cmd[cmd.index("--protected-mode") + 1] == "yes"


def test_environment_carries_every_setting():
    stack = build_stack({"model-async": {"latency_min_ms": 1, "latency_max_ms": 2}})
    env = launcher.environment(stack, "model-async", base={})
    assert env["MODEL_ASYNC_LATENCY_MIN_MS"] == "1.0" and env["MODEL_ASYNC_PORT"] == "8000"
    assert "SCORING_SYNC_PORT" not in env


def test_a_chain_at_a_url_is_measured_there_and_nothing_else_moves():
    stack = build_stack().at_urls({"async": "http://10.0.0.5:8001/", "sync": None})
    assert stack.scoring("async").predict_url == "http://10.0.0.5:8001/api/v1/ml/async/predict"
    assert stack.remote("async") and not stack.remote("sync")
    assert stack.scoring("sync").url == build_stack().scoring("sync").url
    assert stack.model("async").url == build_stack().model("async").url  # the lab does not guess it


@pytest.mark.parametrize(
    "url", ["10.0.0.5:8001", "ftp://host:21", "http://host:8001/api/v1/ml/async/predict", "http://", "http://h?x=1"]
)
def test_a_target_url_must_be_scheme_host_and_port(url):
    with pytest.raises(BadTargetUrl, match="http://host:port"):
        build_stack().at_urls({"sync": url})
