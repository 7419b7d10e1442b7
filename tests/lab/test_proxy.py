"""nginx in front of a chain (lab/proxy.py): where each part listens, what the configuration promises, and that
nginx itself accepts it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from lab import launcher, proxy
from lab.stack import build_stack


def test_a_proxy_takes_the_handlers_port_and_the_handler_moves_to_loopback():
    stack = build_stack({"scoring-sync": {"proxy": "nginx", "port": 5001}})
    front = stack.proxy("proxy-sync")
    scoring = stack.scoring("sync")
    assert (front.host, front.port) == ("127.0.0.1", 5001) and stack.proxy("proxy-async") is None
    assert front.upstream == "127.0.0.1:15001" == scoring.own_url.removeprefix("http://")
    assert scoring.predict_url == "http://127.0.0.1:5001/api/v1/ml/sync/predict"  # clients (and every experiment)
    assert stack.names()[-1] == "proxy-sync" and stack.chain_names("sync")[-1] == "proxy-sync"
    assert "proxy-async" not in stack.chain_names("async")


def test_the_handler_behind_a_proxy_binds_loopback_at_its_own_port(tmp_path):
    stack = build_stack({"scoring-async": {"proxy": "nginx", "host": "0.0.0.0", "app_port": 18555}})
    cmd = launcher.command(stack, "scoring-async", tmp_path)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "18555"
    assert stack.proxy("proxy-async").host == "0.0.0.0"  # the proxy listens where the handler was told to
    plain = launcher.command(build_stack(), "scoring-async", tmp_path)
    assert plain[plain.index("--port") + 1] == "8001"


def test_a_remote_chain_has_no_proxy_of_the_labs():
    stack = build_stack({"scoring-sync": {"proxy": "nginx"}}).at_urls({"sync": "http://10.0.0.1:80"})
    assert stack.proxies == () and "proxy-sync" not in stack.names()


def test_the_configuration_buffers_states_its_timeouts_and_answers_errors_as_json(tmp_path):
    settings = proxy.ProxySettings(client_header_timeout_s=3, client_body_timeout_s=4)
    text = proxy.config(proxy.Proxy("sync", "127.0.0.1", 5001, "127.0.0.1:15001", settings), tmp_path)
    for line in (
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "client_header_timeout 3s;",
        "client_body_timeout 4s;",
        "server 127.0.0.1:15001;",
        "listen 127.0.0.1:5001;",
        "error_log stderr",
    ):
        assert line in text  # fmt: skip
    assert "daemon" not in text  # in the foreground: the command line says so, in the lab's process group
    bodies = dict(re.findall(r"return (\d+) '(.*)';", text))
    assert set(bodies) == {"400", "413", "502", "503", "504"}
    assert json.loads(bodies["502"]) == {"error": "bad_gateway", "message": proxy.ERRORS[502]}
    assert "proxy_intercept_errors" not in text  # the handler's own errors pass through untouched


@pytest.mark.skipif(proxy.find_binary(proxy.ProxySettings()) is None, reason="nginx is not installed (make nginx)")
def test_nginx_accepts_the_configuration(tmp_path):
    front = proxy.Proxy("async", "127.0.0.1", 8001, "127.0.0.1:18001", proxy.ProxySettings())
    cmd = proxy.command(front, tmp_path)
    checked = subprocess.run([*cmd[:-2], "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_a_model_tiers_proxy_logs_each_answer_and_a_switch_rewrites_only_its_upstream(tmp_path):
    front = proxy.Proxy("async", "127.0.0.1", 7001, "127.0.0.1:7002", proxy.ProxySettings(access_log=True), "model")
    assert front.name == "proxy-model-async"
    with pytest.raises(ValueError, match="model tier"):
        front.predict_url  # noqa: B018 - a model tier's paths are its own, not the scoring contract's
    first = proxy.write_config(front, tmp_path).read_text()
    assert f"access_log {proxy.folder(front, tmp_path) / proxy.ACCESS_LOG} lab;" in first
    quiet = proxy.Proxy("sync", "127.0.0.1", 1, "x:2", proxy.ProxySettings())
    assert "access_log off;" in proxy.config(quiet, tmp_path)
    turned = proxy.switch(front, tmp_path, "127.0.0.1:7003")
    second = (proxy.folder(front, tmp_path) / "nginx.conf").read_text()
    assert turned.upstream == "127.0.0.1:7003" and proxy.folder(turned, tmp_path) == proxy.folder(front, tmp_path)
    assert second == first.replace("server 127.0.0.1:7002;", "server 127.0.0.1:7003;") != first
