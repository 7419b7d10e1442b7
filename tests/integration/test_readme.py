"""The README's commands, read from the README itself, work as written: its curl commands against a
stack started the way ``make up`` starts it, and every ``make`` and ``lab`` command it names exists."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from api_common.contract import SAMPLE
from api_model.model import score
from cli.main import parser
from lab import control, proxy, variants
from lab.smoke import expected_prediction
from tests.conftest import Skip, lab_settings, make_stack, missing_variant, outcome, run_cases

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# The original lab's ports, as the README's commands use them.
DEFAULT_PORTS = {5000: "model-sync", 5001: "scoring-sync", 8000: "model-async", 8001: "scoring-async"}


def curl_commands(ports: Iterable[int] = DEFAULT_PORTS) -> list[str]:
    """The README's curl commands at ``ports`` (the original lab's five; the compose profiles' are elsewhere)."""
    lines = [line for line in README.splitlines() if line.startswith("curl ")]
    return [line for line in lines if readme_port(line) in set(ports)]


def inline_commands(tool: str) -> list[str]:
    """Every ``tool ...`` command the README quotes, inline or on a line of its own (placeholders kept)."""
    found = re.findall(rf"`(?:[A-Z_]+=\S+ )*(?:\.venv/bin/)?({tool} [^`]+)`", README)
    found += [m.split("#")[0].strip() for m in re.findall(rf"^(?:\.venv/bin/)?({tool} .+)$", README, re.M)]
    return found


def readme_port(cmd: str) -> int:
    return int(re.search(r"localhost:(\d+)", cmd).group(1))


def run_curl(cmd: str, port: int | None = None) -> dict:
    """One of the README's curl commands as written, at ``port`` instead of its own when given: its 200 answer."""
    if port is not None:
        cmd = cmd.replace(f"localhost:{readme_port(cmd)}", f"127.0.0.1:{port}")
    argv = shlex.split(cmd) + ["--silent", "--show-error", "--max-time", "10", "--write-out", "\n%{http_code}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=True)
    body, status = out.stdout.rsplit("\n", 1)
    assert status == "200", (cmd, body)
    return json.loads(body)


def check_answer(stack, role: str, chain: str, cmd: str, answer: dict) -> None:
    """``make up``'s answer: OK for the health check, the prediction computed locally, the model's own score."""
    if "healthcheck" in cmd:
        assert answer == {"status": "OK"}
    elif role == "scoring":
        assert answer["detail"] == pytest.approx(expected_prediction(stack, chain), abs=1e-12)
    else:
        assert answer["detail"] == pytest.approx(score(answer["model"], SAMPLE), abs=1e-12)


def test_the_readme_has_the_five_curl_commands_of_the_original_lab():
    commands = curl_commands()
    assert len(commands) == 5
    assert {int(re.search(r"localhost:(\d+)", c).group(1)) for c in commands} == set(DEFAULT_PORTS)


def test_every_make_target_the_readme_names_exists():
    rules = re.findall(r"^([a-z][\w -]*?):", (ROOT / "Makefile").read_text(), re.M)
    targets = {name for rule in rules for name in rule.split()}  # a rule may name several targets
    named = {shlex.split(c)[1] for c in inline_commands("make")}
    assert named, "the README names no make command"
    assert named <= targets, named - targets


def test_every_lab_command_the_readme_names_parses():
    commands = inline_commands("lab")
    assert len(commands) > 5
    for cmd in commands:
        argv = [a for a in shlex.split(cmd)[1:] if a != "..."]
        parser().parse_args(argv)  # exits (SystemExit) on an unknown command or option


# The default; granian for both chains; dynamic batching and the job queue; waitress, Quart and Starlette (the same
# io model: the same answers); a model server, BentoML with XGBoost (the scoring handler answers as async-xgboost's,
# computed locally; its model API is BentoML's own, whose command the README gives).
# What the variant's model tier process must show that the default's does not: in its command, or its environment.
SHOWS = {"async-granian": "granian", "sync-granian": "granian", "async-batch": "MODEL_ASYNC_MAX_WAIT_MS=5",
         "sync-queue": "api_model.queue_worker", "sync-waitress": "waitress",
         "async-quart": "api_model.quart_app:create_app",
         "async-starlette": "api_model.starlette_app:create_app",
         "async-bentoml-xgboost": "bentoml_service:Scorer"}  # fmt: skip


PROXIED = "PROXY=nginx"  # make up PROXY=nginx: nginx in front of both scoring handlers, on their ports


def _after_up(variant: str | None, path: Path) -> None:
    """``make up`` (``VARIANT=...`` and ``PROXY=nginx`` too) is ``control.up``: once it returns, the curl commands
    answer 200 with ``"detail"``, the value computed locally; once ``make down`` returns nothing listens."""
    if variant == PROXIED:
        stack, variant = make_stack(scoring_sync={"proxy": "nginx"}, scoring_async={"proxy": "nginx"}), None
        assert [p.name for p in stack.proxies] == ["proxy-sync", "proxy-async"]
    else:
        stack = make_stack()
    if variant:
        ports = {name: {"port": stack.service(name).settings.port} for name in DEFAULT_PORTS.values()}
        redis = {"port": stack.redis.port, "entities": stack.redis.entities}
        stack = variants.stack_for(variants.get(variant), ports | {"redis": redis})
    lab = lab_settings(path)
    control.up(stack, lab, log=lambda *_: None)
    try:
        if variant:  # the variant's model tier really runs what it says
            chain = variants.get(variant).chain
            model = next(r for r in control.state_file(lab).read() if r.name == f"model-{chain}")
            environ = Path(f"/proc/{model.pid}/environ").read_bytes().replace(b"\0", b" ").decode()
            assert SHOWS[variant] in " ".join(model.cmd) + " " + environ
        for cmd in curl_commands():
            svc = stack.service(DEFAULT_PORTS[readme_port(cmd)])
            if svc.protocol != "lab":  # a model server's own API: its command is in the README's table of them
                continue
            check_answer(stack, svc.role, svc.chain, cmd, run_curl(cmd, svc.settings.port))
    finally:
        control.down(lab, log=lambda *_: None)
    for name in stack.names():  # make down leaves nothing listening: every port refuses
        address = control.address(stack, name).removeprefix("http://").removeprefix("redis://").split("/")[0]
        host, port = address.rsplit(":", 1)
        with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
            pass


AT_ONCE = 3  # stacks brought up at once, each on its own ports and state folder (start-up is mostly waiting)


@pytest.fixture(scope="module")
def brought_up(tmp_path_factory) -> dict:
    """Each case's outcome: None, its failure, or a skip reason; ``AT_ONCE`` stacks at a time."""
    cases = [None, PROXIED, *SHOWS]
    # Made here, before the threads: pytest makes its base folder on the first mktemp, and two threads making it at
    # once made two (one case then failed with "not a normalized and relative path", 1 run in 2 on 2026-12-05).
    folders = {case: tmp_path_factory.mktemp(case or "default") for case in cases}
    run = lambda variant: _after_up(variant, folders[variant])  # noqa: E731
    skip = lambda case: proxy_missing() if case == PROXIED else missing_variant(case)  # noqa: E731
    return run_cases(cases, run, AT_ONCE, skip)


def proxy_missing() -> Skip | None:
    return Skip("nginx is not installed (make nginx)") if proxy.find_binary(proxy.ProxySettings()) is None else None


@pytest.mark.integration
@pytest.mark.parametrize("variant", [None, PROXIED, *SHOWS])
def test_after_up_the_readme_curl_commands_answer_a_prediction(variant, brought_up):
    outcome(brought_up[variant])
