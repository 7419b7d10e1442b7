"""A variant's chain started where nothing can be fetched: a network namespace with only a loopback interface.

``python -m benchmark.offline VARIANT [--clients 64] [--seconds 5]`` re-runs itself under ``unshare --net`` (root,
or a user namespace), brings the loopback interface up, then, inside: starts Redis, the variant's model tier
and its scoring handler on free ports, checks every endpoint (benchmark/verify.py: health, the right
prediction, a client error), sends ``--clients`` concurrent requests through the scoring handler for
``--seconds`` (bounded in time), reads the batch sizes the model tier formed (its multiprocess metrics),
stops the chain and looks for anything of it left running. It prints one JSON object: the proof a model
server needs no network (a download would fail there: no route leaves the namespace), and what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

INSIDE_ENV = "LAB_OFFLINE_INSIDE"


def interfaces() -> list[str]:
    """This namespace's network interfaces (the kernel's list: /sys/class/net is the mount's, not the namespace's)."""
    return sorted(name for _, name in socket.if_nameindex())


def _load(stack, chain: str, clients: int, seconds: float) -> tuple[dict, dict]:
    """The statuses answered to ``clients`` closed-loop clients over ``seconds``, and each error's count by its
    status, the lab's error code and the head of its message (what a failed run is read by)."""
    import httpx

    from api_common.contract import SAMPLE

    url = stack.scoring(chain).predict_url
    statuses: Counter = Counter()
    errors: Counter = Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=10) as c:
            while time.monotonic() < end:
                error = None
                try:
                    reply = c.post(url, json=SAMPLE)
                    code = reply.status_code
                    if code != 200:
                        error = _error_of(reply)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                with lock:
                    statuses[str(code)] += 1
                    if error:
                        errors[f"{code} {error}"] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return dict(statuses), dict(errors)


def _error_of(reply) -> str:
    try:
        body = reply.json()
        return f"{body['error']}: {str(body.get('message', ''))[:100]}"
    except (ValueError, KeyError, TypeError):
        return reply.text[:100]


def inside(variant_name: str, clients: int, seconds: float, state: Path) -> dict:
    from api_common.ports import free_ports
    from api_model.model_servers import FLUSH_S
    from benchmark.analysis import batch_sizes
    from benchmark.snapshot import collect
    from benchmark.verify import verify
    from lab import control, processes, variants
    from lab.settings import LabSettings

    variant = variants.get(variant_name)
    chain = variant.chain
    redis_port, model_port, scoring_port, app_port = free_ports(4)
    stack = variants.stack_for(variant, {"redis": {"port": redis_port, "entities": 50},
                                         f"model-{chain}": {"port": model_port},
                                         f"scoring-{chain}": {"port": scoring_port, "app_port": app_port}})  # fmt: skip
    lab = LabSettings(state_dir=state, results_dir=state / "results")
    out: dict = {"variant": variant_name, "interfaces": interfaces()}
    t0 = time.monotonic()
    records = control.start(stack, lab, ["redis", *stack.chain_names(chain)], log=lambda *_: None)
    try:
        out["started_s"] = round(time.monotonic() - t0, 1)
        out["checks"] = verify(stack, chains=(chain,))
        out["statuses"], out["errors"] = _load(stack, chain, clients, seconds)
        prom = state / "model.prom"
        time.sleep(2 * FLUSH_S)  # the workers write their batch counts every FLUSH_S
        prom.write_text(collect(control.metrics_folder(lab, f"model-{chain}"), f"model-{chain}"))
        out["batches"] = batch_sizes(prom)
    finally:
        members = {r.name: processes.members(r) for r in records}
        control.stop(lab, records)
    out["processes_while_up"] = {name: len(pids) for name, pids in members.items()}
    time.sleep(0.5)
    out["left_running"] = [pid for pids in members.values() for pid in pids if _running(pid)]
    return out


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmark.offline", description=__doc__.splitlines()[0])
    p.add_argument("variant")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    if os.environ.get(INSIDE_ENV):
        with tempfile.TemporaryDirectory(prefix="lab-offline-") as state:
            print(json.dumps(inside(args.variant, args.clients, args.seconds, Path(state))), flush=True)
        return 0
    unshare = shutil.which("unshare")
    if unshare is None:
        print("unshare (util-linux) is not installed", file=sys.stderr)
        return 2
    # Root may make a network namespace; anyone else needs a user namespace for it (--map-root-user).
    userns = [] if os.geteuid() == 0 else ["--map-root-user"]
    script = 'ip link set lo up && exec "$0" "$@"'
    inner = [sys.executable, "-m", "benchmark.offline", *(argv or sys.argv[1:])]
    cmd = [unshare, "--net", *userns, "sh", "-c", script, *inner]
    return subprocess.run(cmd, env=os.environ | {INSIDE_ENV: "1"}).returncode


if __name__ == "__main__":
    sys.exit(main())
