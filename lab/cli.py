"""``lab``: the command line behind the Makefile (up, down, status, load, smoke, run, serve)."""

from __future__ import annotations

import argparse
import sys

import redis

from feature_store.loader import load
from feature_store.server import RedisBinaryNotFound
from lab import control
from lab.launcher import serve
from lab.ports import PortInUse
from lab.settings import LabSettings
from lab.smoke import smoke, table
from lab.stack import Stack, build_stack


def cmd_up(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    control.up(stack, lab)
    print("stack is up; stop it with: make down")
    return 0


def cmd_down(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    control.down(lab)
    return 0


def cmd_status(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    rows = control.status(stack, lab)
    print(f"{'service':<14} {'pid':>7} {'running':>8} {'healthy':>8}  address")
    for r in rows:
        print(f"{r.name:<14} {r.pid or '-':>7} {str(r.running):>8} {str(r.healthy):>8}  {r.address}")
    return 0 if all(r.healthy for r in rows) else 1


def cmd_load(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    n = args.entities if args.entities is not None else stack.redis.entities
    client = redis.Redis.from_url(stack.redis.effective_url, socket_timeout=5)
    written = load(client, n, stack.redis.key_prefix, stack.redis.features_per_entity)
    print(f"feature store: wrote {written} entities under prefix {stack.redis.key_prefix!r}")
    return 0 if written == n else 1


def cmd_smoke(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    results = smoke(stack)
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


def cmd_run(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    """The main job: stack up, features loaded, one prediction per chain."""
    control.up(stack, lab)
    cmd_load(stack, lab, argparse.Namespace(entities=None))
    code = cmd_smoke(stack, lab, args)
    print("\nthe stack is left running; stop it with: make down")
    return code


def cmd_serve(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    lab.state_dir.mkdir(parents=True, exist_ok=True)
    serve(stack, args.service, lab.state_dir)
    return 0  # not reached: serve() replaces this process


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the stack in the background; return once every service is healthy")
    sub.add_parser("down", help="stop every process the lab started")
    sub.add_parser("status", help="show each service's process and health")
    load_p = sub.add_parser("load", help="write the entities' features into Redis")
    load_p.add_argument("--entities", type=int, default=None)
    sub.add_parser("smoke", help="one prediction through each chain, checked against the expected value")
    sub.add_parser("run", help="the main job")
    serve_p = sub.add_parser("serve", help="run one service in the foreground (container entry point)")
    serve_p.add_argument("service")
    return p


COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "load": cmd_load,
    "smoke": cmd_smoke,
    "run": cmd_run,
    "serve": cmd_serve,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](build_stack(), LabSettings(), args)
    except (PortInUse, control.StartupError, RedisBinaryNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
