"""``lab``: the command line behind the Makefile (up, down, status, load, smoke, run, serve)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import typing
from pathlib import Path

import redis

from api_common.contract import CHAINS, SERVICES
from api_common.ports import PortInUse
from benchmark import experiments
from benchmark.profiles import Profile, ProfileError
from benchmark.progress import Progress
from benchmark.rundir import write_json
from feature_store.loader import load
from feature_store.server import RedisBinaryNotFound
from lab import control, probe, processes, variants
from lab.launcher import serve
from lab.settings import LabSettings
from lab.smoke import smoke, table
from lab.stack import BadTargetUrl, Stack, build_stack


def cmd_up(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    if args.config:
        return _up_config(lab, Path(args.config))
    if args.variant:
        variant = variants.get(args.variant)
        if variant.missing():
            print(f"error: variant {variant.name} needs {variant.missing_text()}", file=sys.stderr)
            return 2
        stack = variants.stack_for(variant, _profiling(lab) if args.profiling else None)
        print(f"variant {variant.name} ({variant.chain} chain): {variant.change}")
    control.up(stack, lab)
    print("stack is up; stop it with: make down")
    return 0


def _up_config(lab: LabSettings, path: Path) -> int:
    """``lab up --config FILE``: the service an advice recommends (its ``recommended.json``), with its settings."""
    try:
        config = json.loads(path.read_text())
        service, settings = config["service"], config["settings"]
        stack = build_stack({service: settings})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: --config {path}: not a configuration lab advise wrote ({type(exc).__name__}: {exc})",
              file=sys.stderr)  # fmt: skip
        return 2
    control.cleanup_stale(lab)
    control.start(stack, lab, [service])
    print(f"{service} is up: POST {stack.service(service).predict_url}; stop it with: make down")
    return 0


def cmd_advise(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    """``lab advise --model PATH``: what to run for the user's model on this machine, with the evidence."""
    from benchmark.advise import report
    from benchmark.advise.model import BadInput
    from benchmark.advise.run import run
    from benchmark.report.build import build

    split = lambda text: tuple(w for w in (text or "").split(",") if w)  # noqa: E731
    try:
        path = run(args.model, Path(args.example) if args.example else None, lab, _profile(args), args.budget_min,
                   split(args.only), split(args.exclude), _tracker(), publish=build,
                   exhaustive=args.exhaustive, chain=args.chain)  # fmt: skip
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("", *report.headline(report.summarise(path)), f"\nreport: {path / 'report.html'}", sep="\n")
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


def _profile(args: argparse.Namespace):
    names = [o if isinstance(o, str) else o.name for o in experiments.options()]
    return experiments.resolve_profile(args.profile, {k: getattr(args, k, None) for k in names})


def _experiment(stack: Stack, lab: LabSettings, args: argparse.Namespace, names: tuple[str, ...], label: str) -> int:
    from benchmark import suite

    path = suite.run(stack, lab, _profile(args), names, progress=_tracker(), label=label)
    summary = json.loads((path / "summary.json").read_text())
    for name in names:
        lines = experiments.get(name).console(summary)
        print(*([""] + lines if lines else []), sep="\n")
    print(f"\nreport: {path / 'report.html'}")
    return 0


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _tracker() -> Progress:
    """One line per step with the time left; on a terminal, rich's live bar under them."""
    return Progress(_progress, live=sys.stdout.isatty())


def cmd_run(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    """The main job: stack up, features loaded, one prediction per chain, then the comparison."""
    already_up = any(processes.alive(r) for r in control.state_file(lab).read())
    with control.sigterm_as_interrupt():
        try:
            control.up(stack, lab)  # Redis holds the entities once this returns
            if cmd_smoke(stack, lab, args) != 0:
                print("error: a chain answered wrongly; no benchmark was run", file=sys.stderr)
                return 1
            if not args.smoke_only:
                _experiment(stack, lab, args, experiments.main_job(), "run")
        except KeyboardInterrupt:
            if not already_up:
                control.down(lab)
            raise
    print("\nthe stack is left running; stop it with: make down")
    return 0


def cmd_experiment(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    """``lab profile``, ``lab capacity``...: one experiment of the registry against the running stack, or against
    one endpoint of the user's (``--url``, ``--body``) where the experiment can measure one."""
    if getattr(args, "url", None):
        from benchmark.endpoint import BadEndpoint
        from benchmark.report.build import build

        if not args.body:
            print("error: --url needs --body FILE, the JSON body every query sends", file=sys.stderr)
            return 2
        try:
            path = experiments.get(args.command).endpoint(args.url, Path(args.body), lab, _profile(args), _tracker(),
                                                          publish=build)  # fmt: skip
        except BadEndpoint as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"\nreport: {path / 'report.html'}")
        return 0
    return _experiment(stack, lab, args, (args.command,), args.command)


def cmd_compare(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark import compare

    names = (args.variants or ("" if args.sweep else "decomposition")).split(",")
    path = compare.run([n for n in names if n], lab, _profile(args), _tracker(), args.sweep, _sweep_grid(args))
    print(f"\nreport: {path / 'report.html'}")
    return 0


def cmd_goodput(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark import goodput
    from benchmark.report.build import build

    names = [n for n in (args.variants or ",".join(goodput.DEFAULT_VARIANTS)).split(",") if n]
    policies = tuple(p for p in (args.policies or ",".join(goodput.POLICIES)).split(",") if p)
    multiples = tuple(float(m) for m in (args.multiples or ",".join(map(str, goodput.MULTIPLES))).split(","))
    known = {k: float(v) for k, _, v in (item.partition("=") for item in (args.capacity_qps or "").split(",") if item)}
    path = goodput.run(names, lab, _profile(args), _tracker(), policies, multiples, args.probe_s, args.seed, known,
                       publish=build)  # fmt: skip
    print(f"report: {path / 'report.html'}")
    return 0


def cmd_slowclients(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark import clientbehaviour

    servers = tuple(n for n in args.servers.split(",") if n) if args.servers else clientbehaviour.SERVERS
    unknown = [n for n in servers if n not in variants.VARIANTS]
    if unknown:
        print(f"unknown variants: {', '.join(unknown)} (lab variants lists them)", file=sys.stderr)
        return 2
    missing = [n for n in servers if variants.VARIANTS[n].missing()]
    for n in missing:
        print(f"skipping {n}: {variants.VARIANTS[n].missing_text()}")
    sizes = tuple(int(n) for n in args.sizes.split(",") if n)
    clientbehaviour.run(lab, tuple(n for n in servers if n not in missing), sizes, args.probe_s)
    return 0


def cmd_bluegreen(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark import bluegreen

    _, out = bluegreen.run(lab, args.chain, args.qps or bluegreen.OFFERED[args.chain], args.hold_s)
    return 1 if out["failed"] or out["proxy_failed"] or any(s["old_answers_after"] for s in out["switches"]) else 0


def cmd_parity(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark import parity

    images = {"sync": args.image_sync_url, "async": args.image_async_url}
    path = parity.run(lab, _profile(args), images, _tracker(), compose_files=args.compose_files)
    print(f"\nreport: {path / 'report.html'}")
    return 0


def cmd_ablation(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark import ablation

    qps = {c: q for c, q in (("async", args.async_qps), ("sync", args.sync_qps)) if q is not None}
    path = ablation.run(args.chains.split(","), lab, _profile(args), _tracker(), qps, args.hold_s, args.rounds,
                        args.capacity)  # fmt: skip
    print(f"\nreport: {path / 'report.html'}")
    return 0


def cmd_costmodel(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark import costcheck

    cores = tuple(int(c) for c in args.cores.split(","))
    path = costcheck.run(costcheck.configs(tuple(args.chains.split(",")), cores), lab, _profile(args), _tracker())
    print(f"\nreport: {path / 'report.html'}")
    return 0


def _sweep_grid(args: argparse.Namespace) -> dict[str, tuple[float, ...]]:
    """The sweep's axes from the flags given; the scoring workers when none is."""
    given = {"workers": args.workers, "max_wait_ms": args.max_wait_ms, "max_batch_size": args.batch_caps}
    number = lambda x: float(x) if "." in x else int(x)  # noqa: E731
    grid = {axis: tuple(number(x) for x in text.split(",")) for axis, text in given.items() if text}
    return grid or {"workers": variants.SWEEP_WORKERS}


def cmd_variants(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    for v in variants.VARIANTS.values():
        missing = f"  [needs {v.missing_text()}]" if v.missing() else ""
        print(f"{v.name:<24} {v.chain:<6} {v.change}{missing}")
    for name, members in variants.PRESETS.items():
        print(f"preset {name}: {', '.join(members)}")
    return 0


def cmd_report(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    from benchmark.report.build import build

    print(f"report: {build(Path(args.run_dir))}")
    return 0


def cmd_serve(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    if args.service not in stack.names():
        print(f"error: no service {args.service!r}; one of {', '.join(stack.names())}", file=sys.stderr)
        return 2
    # A container of a variant (compose's model-servers and ray profiles) serves that variant's settings, as
    # `make up VARIANT=` does; what its environment sets explicitly (the model's URL under compose) stays.
    variant = variants.get(args.variant) if args.variant else None
    if variant is not None:
        stack = variants.stack_for(variant)
    lab.state_dir.mkdir(parents=True, exist_ok=True)
    # What a container's health check asks (lab/probe.py), on this machine's loopback, before the host is set.
    write_json(probe.where(lab.state_dir), _health_check(stack, args.service))
    if args.host:  # a container listens on every interface of its own network namespace
        on_host = {args.service: {"host": args.host}}
        stack = variants.stack_for(variant, on_host) if variant is not None else build_stack(on_host)
    serve(stack, args.service, lab.state_dir)
    return 0  # not reached: serve() replaces this process


def _health_check(stack: Stack, name: str) -> dict:
    """What answers ``name``'s health on this machine (``lab.probe``'s form): Redis's PING, or a URL."""
    if name == "redis":
        return {"redis_port": stack.redis.port}
    svc = stack.service(name)
    return {"url": svc.health_url, "lab_json": svc.health_json}


def cmd_health(stack: Stack, lab: LabSettings, args: argparse.Namespace) -> int:
    """Exit 0 when the service answers its own health check on this machine (a container's HEALTHCHECK)."""
    if args.service not in stack.names():
        print(f"error: no service {args.service!r}; one of {', '.join(stack.names())}", file=sys.stderr)
        return 2
    ok = probe.healthy(_health_check(stack, args.service), timeout=args.timeout)
    print(f"{args.service}: {'OK' if ok else 'not healthy'}")
    return 0 if ok else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lab", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    up_p = sub.add_parser("up", help="start the stack in the background; return once every service is healthy")
    up_p.add_argument("--variant", default=os.environ.get("VARIANT") or None, help="a variant (see: lab variants)")
    up_p.add_argument(
        "--config", metavar="FILE", help="the recommended.json a lab advise run wrote: start that service"
    )
    up_p.add_argument(
        "--profiling",
        action="store_true",
        help="server-side profiling on, so that lab profile can profile inside the services",
    )
    sub.add_parser("variants", help="list the variants and presets")
    advise_p = sub.add_parser("advise", help="what to run for your model on this machine: a race of configurations")
    advise_p.add_argument("--model", required=True, help="an ONNX file, a joblib/pickle estimator, a TorchScript file "
                          "or module:callable")  # fmt: skip
    advise_p.add_argument("--example", metavar="FILE", help="one request body (a JSON array: one item's input)")
    advise_p.add_argument("--budget-min", type=float, default=30.0, help="minutes of probing at most (default 30)")
    advise_p.add_argument("--only", help="servers or candidates to try, comma-separated (e.g. uvicorn,granian)")
    advise_p.add_argument("--exclude", help="servers or candidates to leave out, comma-separated")
    advise_p.add_argument(
        "--chain",
        action="store_true",
        help="measure each candidate through its chain's scoring "
        "handler (Redis, the twin in front of the model tier), not the model tier alone",
    )
    advise_p.add_argument("--exhaustive", action="store_true", help="no candidate dropped: every one through every "
                          "round (the grid a race is checked against)")  # fmt: skip
    _add_profile_options(advise_p, ("capacity_bound_ms", "capacity_probe_s"))
    compare_p = sub.add_parser("compare", help="experiment 4 and the decomposition: variants side by side")
    compare_p.add_argument(
        "--variants", help="comma-separated variants or presets (default: decomposition, or none with --sweep)"
    )
    compare_p.add_argument(
        "--sweep",
        metavar="VARIANT",
        help="also run VARIANT at every point of the grid of --workers, --max-wait-ms and "
        "--batch-caps (those given; --workers alone when none is)",
    )
    compare_p.add_argument(
        "--workers",
        help="the sweep's scoring worker counts (default "
        f"{','.join(map(str, variants.SWEEP_WORKERS))} when no other axis is given)",
    )
    compare_p.add_argument(
        "--max-wait-ms",
        help="the sweep's dynamic-batching waits, e.g. "
        f"{','.join(map(str, variants.SWEEP_MAX_WAIT_MS))} (the batching frontier)",
    )
    compare_p.add_argument("--batch-caps", help="the sweep's batch caps (max_batch_size), e.g. "
                           f"{','.join(map(str, variants.SWEEP_BATCH_CAPS))}")  # fmt: skip
    goodput_p = sub.add_parser("goodput", help="each overload policy past capacity: goodput, refused, failed, p99")
    goodput_p.add_argument("--variants", help="comma-separated variants (default: sync, async, sync-gevent, "
                           "async-httpx)")  # fmt: skip
    goodput_p.add_argument("--policies", help="comma-separated policies (default: off,fixed,delay)")
    goodput_p.add_argument("--multiples", help="offered loads as multiples of capacity (default: 0.5,1,1.5,2,3)")
    goodput_p.add_argument("--probe-s", dest="probe_s", type=float, default=10.0, help="seconds per load (10)")
    goodput_p.add_argument("--seed", type=int, default=None, help="the policies' shuffled order")
    goodput_p.add_argument("--capacity-qps", dest="capacity_qps", metavar="VARIANT=QPS,...",
                           help="capacities already measured: their searches are skipped")  # fmt: skip
    _add_profile_options(goodput_p, ("capacity_bound_ms", "capacity_probe_s", "capacity_rounds", "capacity_budget_s"))
    slow_p = sub.add_parser("slowclients", help="slow clients against each server, facing them directly and behind "
                            "nginx: the fast clients' goodput")  # fmt: skip
    slow_p.add_argument("--servers", help="variants, comma-separated (default: every server of both chains: sync, "
                        "sync-gthread, sync-gevent, sync-meinheld, sync-waitress, sync-granian, async)")  # fmt: skip
    slow_p.add_argument("--sizes", default="10,50,200", help="slow connections per population (default 10,50,200)")
    slow_p.add_argument("--probe-s", dest="probe_s", type=float, default=6.0, help="seconds per condition (6)")
    bg_p = sub.add_parser("bluegreen", help="a blue/green model update and its rollback behind nginx, under load")
    bg_p.add_argument("--chain", choices=CHAINS, default="async")
    bg_p.add_argument("--qps", type=float, help="the offered load (default: about half the chain's capacity)")
    bg_p.add_argument("--hold-s", dest="hold_s", type=float, default=10.0, help="seconds before, between and after")
    parity_p = sub.add_parser("parity", help="the images (make compose-up) against make up's processes, both chains "
                              "interleaved: each chain's image/native capacity ratio")  # fmt: skip
    for chain, url in (("sync", "http://127.0.0.1:5001"), ("async", "http://127.0.0.1:8001")):
        parity_p.add_argument(f"--image-{chain}-url", dest=f"image_{chain}_url", default=url,
                              help=f"the {chain} chain's scoring handler in its image (default {url})")  # fmt: skip
    parity_p.add_argument("--compose-files", default="", help="the override files compose ran with, recorded (make "
                          "parity passes COMPOSE_FILES)")  # fmt: skip
    _add_profile_options(parity_p, ("capacity_bound_ms", "capacity_probe_s", "capacity_rounds", "capacity_budget_s"))
    abl_p = sub.add_parser("ablation", help="where each chain's CPU goes: its walk from the default to the floor, one "
                           "layer at a time, each step held at one fixed load in rounds (a waterfall)")  # fmt: skip
    abl_p.add_argument("--chains", default="async,sync", help="the walks to run (default async,sync)")
    abl_p.add_argument("--async-qps", dest="async_qps", type=float, help="the async walk's hold load (default 100)")
    abl_p.add_argument("--sync-qps", dest="sync_qps", type=float, help="the sync walk's hold load (default 20)")
    abl_p.add_argument("--hold-s", dest="hold_s", type=float, default=8.0, help="seconds per hold (8)")
    abl_p.add_argument("--rounds", type=int, default=5, help="rounds of holds (5)")
    abl_p.add_argument(
        "--capacity",
        action="store_true",
        help="then the capacity of the default, the leanest "
        "framework chain and the floor, interleaved (the targets; about 8 min a chain, quick profile)",
    )
    _add_profile_options(abl_p, ("capacity_bound_ms", "capacity_probe_s", "capacity_rounds", "capacity_budget_s"))
    cm_p = sub.add_parser("costmodel", help="the cost model's predictions against measured capacity: each chain with "
                          "1, 2, 5, 9 (sync) or 1, 2, 4 (async) workers on 1 and 2 cores")  # fmt: skip
    cm_p.add_argument("--chains", default="sync,async", help="the chains (default sync,async)")
    cm_p.add_argument("--cores", default="1,2", help="the core counts to pin the chains to (default 1,2)")
    _add_profile_options(cm_p, ("capacity_bound_ms", "capacity_probe_s", "capacity_rounds", "capacity_budget_s"))
    sub.add_parser("down", help="stop every process the lab started")
    sub.add_parser("status", help="show each service's process and health")
    load_p = sub.add_parser("load", help="write the entities' features into Redis")
    load_p.add_argument("--entities", type=int, default=None)
    sub.add_parser("smoke", help="one prediction through each chain, checked against the expected value")
    run_p = sub.add_parser("run", help="the main job: stack up, verify, then every experiment and the report")
    run_p.add_argument("--smoke-only", action="store_true", help="stop after one prediction per chain")
    for exp in experiments.all_experiments():
        exp_p = sub.add_parser(exp.name, help=exp.help)
        for chain in CHAINS:
            exp_p.add_argument(
                f"--{chain}-url", dest=f"{chain}_url", metavar="URL",
                help=f"measure the {chain} chain's scoring handler at URL (http://host:port) instead of the local one",
            )  # fmt: skip
        if exp.endpoint is not None:
            exp_p.add_argument("--url", metavar="URL", help="measure this endpoint alone (POST), not the chains")
            exp_p.add_argument("--body", metavar="FILE", help="with --url: the JSON body every query sends")
        _add_profile_options(exp_p, exp.options)
    for p_ in (run_p, compare_p):
        _add_profile_options(p_, experiments.options())
    report_p = sub.add_parser("report", help="rebuild a run's report from its folder, without re-running")
    report_p.add_argument("run_dir")
    serve_p = sub.add_parser("serve", help="run one service in the foreground (container entry point)")
    serve_p.add_argument("service")
    serve_p.add_argument("--host", help="listen on this address instead of the service's own (containers: 0.0.0.0)")
    serve_p.add_argument("--variant", default=os.environ.get("LAB_VARIANT") or None,
                         help="serve this variant's settings (lab variants; a container's LAB_VARIANT)")  # fmt: skip
    health_p = sub.add_parser("health", help="exit 0 when a service answers its health check (container HEALTHCHECK)")
    health_p.add_argument("service")
    health_p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the answer (default 2)")
    return p


OPTION_TYPES = typing.get_type_hints(Profile)


def _add_profile_options(p: argparse.ArgumentParser, names: tuple[str | experiments.Option, ...]) -> None:
    p.add_argument("--profile", choices=("quick", "full"), default="quick", help="durations preset (default quick)")
    p.add_argument("--full", dest="profile", action="store_const", const="full", help="same as --profile full")
    p.add_argument("--quick", dest="profile", action="store_const", const="quick", help="same as --profile quick")
    if "capacity_pin" in names:
        p.add_argument("--capacity-pin", dest="capacity_pin", action="store_const", const=True, default=None,
                       help="LoadGen on the last core, the chain under test on the others")  # fmt: skip
    for name in names:
        if isinstance(name, experiments.Option):  # an experiment's own, typed by its declaration
            p.add_argument("--" + name.name.replace("_", "-"), dest=name.name, type=name.type, help=name.help)
            continue
        if name == "capacity_pin":
            continue
        kind = OPTION_TYPES[name]  # the profile's own field type, not a guess from the option's name
        flag = "--" + name.replace("_", "-").replace("timeit-", "")
        p.add_argument(flag, dest=name, type=kind, default=None)


COMMANDS = {
    "up": cmd_up,
    "down": cmd_down,
    "status": cmd_status,
    "load": cmd_load,
    "smoke": cmd_smoke,
    "run": cmd_run,
    "serve": cmd_serve,
    "health": cmd_health,
    "report": cmd_report,
    "compare": cmd_compare,
    "goodput": cmd_goodput,
    "variants": cmd_variants,
    "advise": cmd_advise,
    "slowclients": cmd_slowclients,
    "bluegreen": cmd_bluegreen,
    "parity": cmd_parity,
    "ablation": cmd_ablation,
    "costmodel": cmd_costmodel,
}


def stack_for(command: str, lab: LabSettings, args: argparse.Namespace) -> Stack:
    """The stack a command works on: the experiments measure it, at the chains' URLs when given;
    ``lab run`` starts it with server-side profiling on (it profiles); ``lab up`` when asked to."""
    if _handler(command) is cmd_experiment:
        return build_stack().at_urls({chain: getattr(args, f"{chain}_url", None) for chain in CHAINS})
    if command == "run" or (command == "up" and args.profiling):
        return build_stack(_profiling(lab))
    return build_stack()


def _profiling(lab: LabSettings) -> dict[str, dict]:
    """Overrides that turn server-side profiling on, each service writing into its own folder."""
    return {n: {"profiling": True, "profile_dir": str(lab.state_dir / "profiles" / n)} for n in SERVICES}


def _handler(command: str):
    """A command's function; every other command the parser knows is an experiment of the registry (read when
    the parser is built: an experiment of ``LAB_EXPERIMENT_PATH`` too)."""
    return COMMANDS.get(command, cmd_experiment)


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C must reach us even when started from a shell that ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parser().parse_args(argv)
    try:
        if getattr(args, "profile", None):
            _profile(args)  # refuse options that would measure nothing before anything starts
        lab = LabSettings()
        return _handler(args.command)(stack_for(args.command, lab, args), lab, args)
    except (PortInUse, control.StartupError, RedisBinaryNotFound, ProfileError, BadTargetUrl) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: what this command started was stopped; partial results were kept", file=sys.stderr)
        return 130
