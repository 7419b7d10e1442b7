"""``lab advise``: the user's model examined, the space built from the registries, every candidate started on its
own port, checked against the model's own answer and warmed up, then raced (``race.py``) on the lab's capacity
method; the recommendation written as a configuration that ``lab up --config`` starts.

``chain``: each candidate is measured through the scoring handler of its chain (the Flask twin in front of a WSGI
model tier, the FastAPI twin in front of an ASGI one), with one Redis for the run holding the example's first
features as an entity, so that the join gives back the example and the answer is still the model's own.

The candidates run side by side while the race lasts (an idle server costs next to no CPU; within a round every
survivor must see the same machine, so none is restarted between rounds), and each is stopped once it is dropped;
nothing is left running at the end. One that fails to start, answers wrongly or fails every probe is recorded with
its reason and the race goes on.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import redis

from api_common import protocols
from api_common.ports import free_ports
from api_common.settings import cpu_count
from benchmark.advise import race as race_
from benchmark.advise.model import BadInput, UserModel, examine
from benchmark.advise.space import Candidate, space
from benchmark.loadgen import capacity
from benchmark.profiles import Profile
from benchmark.progress import Progress
from benchmark.rundir import Run, manifest, new_run_dir, write_atomic, write_json
from feature_store.entities import encode, key
from lab import control, processes
from lab.settings import LabSettings
from lab.stack import Stack, build_stack

DEFAULT_BUDGET_MIN = 30.0
WARM_UP_REQUESTS = 20
# The bracket starts at this share of the rate one client gets in a closed loop (1000 / its single-request p50): a
# load every candidate carries with room to spare (under it, its utilisation is at most this share), so that no
# bracket spends its longest probes far under the knee (a probe at 40 QPS needs 11.5 s for its 460 queries here).
START_SHARE = 0.5
TOLERANCE = 1e-4  # a served answer against the model run in Python: float32 runtimes, JSON's round trip
ENTITY = "advise-example"  # --chain: the entity whose stored features are the example's first ones
STORED = 4  # --chain: how many of the example's features the store holds (the lab's default per entity)


@dataclass(frozen=True)
class Ports:
    """A candidate's ports: its model tier's, and with ``--chain`` its scoring handler's and the run's Redis."""

    model: int
    scoring: int | None = None
    redis: int | None = None


def scoring_of(candidate: Candidate) -> str:
    """The scoring handler in front of a candidate's model tier: its own chain's twin."""
    return f"scoring-{candidate.chain}"


def stack_for(candidate: Candidate, model: UserModel, ports: Ports) -> Stack:
    overrides = {candidate.service: candidate.overrides | model.settings() | {"port": ports.model}}
    if ports.scoring is not None:
        overrides |= {scoring_of(candidate): {"port": ports.scoring}, "redis": {"port": ports.redis}}
    return build_stack(overrides)


def measured(candidate: Candidate, ports: Ports) -> str:
    """The service whose predict path the race measures."""
    return scoring_of(candidate) if ports.scoring is not None else candidate.service


def split(model: UserModel) -> int:
    """--chain: the example's first ``split`` features are stored for ``ENTITY``, the rest sent (at least one)."""
    return max(0, min(STORED, len(model.example) - 1))


def store_example(stack: Stack, model: UserModel) -> None:
    """--chain: write the example's first features as ``ENTITY``'s in the run's Redis."""
    client = redis.Redis.from_url(stack.redis.effective_url, socket_timeout=5)
    try:
        client.set(key(stack.redis.key_prefix, ENTITY), encode(model.example[: split(model)]))
    finally:
        client.close()


def request(stack: Stack, candidate: Candidate, model: UserModel, ports: Ports) -> tuple[str, bytes]:
    """The URL (its query included) and body of one prediction, in the measured service's protocol."""
    svc = stack.service(measured(candidate, ports))
    if svc.role == "scoring":
        return svc.predict_url, json.dumps({"entity_id": ENTITY, "features": model.example[split(model) :]}).encode()
    params, body = protocols.get(svc.protocol).request(model.example, svc.settings.default_model)
    url = str(httpx.URL(svc.predict_url, params=params))
    return url, json.dumps(body).encode()


def check(stack: Stack, candidate: Candidate, model: UserModel, ports: Ports) -> float:
    """One answer must equal the model's own in Python (through the scoring handler, the mean of its models' equal
    answers); returns the median single-request latency (ms) of the warm-up, whose answers are thrown away."""
    svc = stack.service(measured(candidate, ports))
    url, body = request(stack, candidate, model, ports)
    headers = {"Content-Type": "application/json"}
    times = []
    with httpx.Client(timeout=10) as client:
        answer = client.post(url, content=body, headers=headers)
        if answer.status_code != 200:
            raise ValueError(f"answered {answer.status_code}: {answer.text[:200]}")
        got = protocols.get(svc.protocol).answer(answer.json())
        if not isinstance(got, dict) or abs(float(got.get("detail", float("nan"))) - model.score) > TOLERANCE:
            raise ValueError(f"answered {str(got)[:200]}, the model's own score is {model.score}")
        outputs = got.get("outputs")
        if outputs is not None and max(abs(a - b) for a, b in zip(outputs, model.outputs, strict=True)) > TOLERANCE:
            raise ValueError(f"answered outputs {outputs[:5]}..., the model's own are {model.outputs[:5]}...")
        for _ in range(WARM_UP_REQUESTS):
            t0 = time.perf_counter()
            client.post(url, content=body, headers=headers)
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def run(
    model_path: str, example: Path | None, lab: LabSettings, profile: Profile, budget_min: float = DEFAULT_BUDGET_MIN,
    only: tuple[str, ...] = (), exclude: tuple[str, ...] = (), progress: Callable[[str], None] | Progress = print,
    publish: Callable[[Path], object] = lambda p: p, cores: int | None = None, exhaustive: bool = False,
    chain: bool = False,
) -> Path:  # fmt: skip
    """Advise on ``model_path``; returns the run folder (``publish`` builds its report). ``BadInput`` before anything
    starts when the model, its example or the space cannot be worked with. ``exhaustive``: every candidate through
    every round, none dropped (what the race is checked against). ``chain``: measured through the scoring
    handler."""
    cores = cores or cpu_count()
    bound = profile.capacity_bound_ms
    model = examine(model_path, example, bound)
    candidates, left_out = space(cores, only, exclude)
    if not candidates:
        raise BadInput(
            f"no candidate is left: --only {','.join(only) or '-'} --exclude {','.join(exclude) or '-'} "
            f"leave none of this machine's space" + (f" ({'; '.join(left_out)})" if left_out else "")
        )
    progress = Progress.of(progress)
    path = new_run_dir(lab.results_dir, "advise")
    write_json(path / "model.json", asdict(model))
    options = profile.as_dict() | {
        "profile": profile.name, "kind": "advise", "model": model_path, "example": str(example) if example else None,
        "budget_min": budget_min, "cores": cores, "only": list(only), "exclude": list(exclude),
        "candidates": [asdict(c) for c in candidates], "left_out": left_out, "exhaustive": exhaustive,
        "chain": chain,
    }  # fmt: skip
    run_ = Run(path, manifest({}, options))
    alab = lab.model_copy(update={"state_dir": lab.state_dir / "advise"})
    control.cleanup_stale(alab, progress)
    progress(f"run folder: {path}")
    progress(f"model: {model.kind} {model.path}, input {model.shape}, one call {model.single_ms:.2f} ms here; "
             f"{len(candidates)} candidates, a budget of {budget_min:g} min")  # fmt: skip
    for line in left_out:
        progress(f"    left out: {line}")
    started: dict[str, tuple[Candidate, list]] = {}
    try:
        with run_.recording():
            searches = {}
            free = iter(free_ports(3 * len(candidates) + 1))
            redis_port = next(free) if chain else None
            if chain:
                store = build_stack({"redis": {"port": redis_port}})
                control.start(store, alab, ["redis"], log=lambda *_: None, instance="redis")
                store_example(store, model)
            for c in candidates:
                ports = Ports(next(free), next(free), redis_port) if chain else Ports(next(free))
                out = path / "candidates" / c.name
                status = _start(c, model, ports, alab, out, progress)
                write_json(out / "status.json", status)
                if "failed" in status:
                    continue
                started[c.name] = (c, status.pop("_records"))
                url, body = request(stack_for(c, model, ports), c, model, ports)
                write_atomic(out / "body.json", body)
                searches[c.name] = capacity.Search(
                    url, bound, profile.capacity_probe_s, out / "loadgen", budget_s=budget_min * 60, progress=progress,
                    label=f"{c.name} ", rounds=race_.MAX_ROUNDS, body=out / "body.json",
                    meter=lambda records=started[c.name][1]: processes.cpu_seconds(records),
                    start_qps=max(1.0, START_SHARE * 1000 / status["single_p50_ms"]),
                )  # fmt: skip
            if not searches:
                raise BadInput("no candidate started and answered the example: see each one's status.json")

            def drop(name: str) -> None:  # a dropped candidate stops costing memory and CPU
                if name in started:
                    control.stop(alab, started.pop(name)[1])

            planned = sum(s.remaining_s() for s in searches.values())
            progress.begin("race", min(planned, budget_min * 60))  # each line now says the time left
            result = race_.race(searches, budget_min * 60, say=lambda line: progress(f"    {line}"), on_drop=drop,
                                exhaustive=exhaustive, on_left=progress.left)  # fmt: skip
            write_json(path / "race.json", {
                "rounds": result.rounds, "stopped": result.stopped, "events": result.events,
                "fates": {n: asdict(f) for n, f in result.fates.items()},
            })  # fmt: skip
            _write_configs(path, result, candidates, model)
    finally:
        progress.close()
        control.down(alab, log=lambda *_: None)
        publish(path)
    return path


def _start(c: Candidate, model: UserModel, ports: Ports, alab: LabSettings, out: Path, progress) -> dict:
    """Start one candidate (with ``--chain``, its scoring handler too), check it and warm it up; its status
    (``failed`` with the reason when it did not)."""
    progress(f"  {c.name}: starting")
    t0 = time.monotonic()
    stack = stack_for(c, model, ports)
    names = [c.service] + ([scoring_of(c)] if ports.scoring is not None else [])
    try:
        records = control.start(stack, alab, names, log=lambda *_: None, instance=c.name)
    except control.StartupError as exc:
        reason = "did not start: " + " ".join(str(exc).split())[:400]
        progress(f"    {reason}")
        return {"failed": reason}
    try:
        single_ms = check(stack, c, model, ports)
    except (ValueError, httpx.HTTPError) as exc:
        control.stop(alab, records)
        progress(f"    wrong answer: {exc}")
        return {"failed": f"wrong answer: {exc}"}
    rss = processes.tier_rss(records, c.service)
    if ports.scoring is not None:  # the memory the run compares: both tiers
        scoring = processes.tier_rss(records, scoring_of(c))
        rss = {"model_rss_mb": rss["model_rss_mb"] + scoring["model_rss_mb"], "scoring_rss_mb": scoring["model_rss_mb"],
               "model_processes": rss["model_processes"] + scoring["model_processes"]}  # fmt: skip
    progress(f"    up in {time.monotonic() - t0:.1f} s: p50 {single_ms:.1f} ms, {rss['model_rss_mb']:.0f} MB")
    return {"single_p50_ms": single_ms, **rss, "start_s": round(time.monotonic() - t0, 1), "_records": records}


def pick(result: race_.Race, memory: dict[str, float]) -> str | None:
    """The leader; among it and the candidates equivalent to it, the one with the least memory."""
    if result.leader is None:
        return None
    tied = [result.leader, *result.equivalents()]
    return min(tied, key=lambda n: memory.get(n, float("inf")))


def _write_configs(path: Path, result: race_.Race, candidates: list[Candidate], model: UserModel) -> None:
    """The recommendation as something to run: ``recommended.json`` (``lab up --config``), an env file of its
    settings, and a compose override, beside the report."""
    memory = {}
    for c in candidates:
        status = path / "candidates" / c.name / "status.json"
        if status.exists():
            memory[c.name] = json.loads(status.read_text()).get("model_rss_mb", float("inf"))
    chosen = pick(result, memory)
    if chosen is None:
        return
    c = next(c for c in candidates if c.name == chosen)
    settings = c.overrides | model.settings()
    write_json(path / "recommended.json", {"candidate": c.name, "service": c.service, "settings": settings})
    env = build_stack({c.service: settings}).service(c.service).settings.to_env()
    prefix = c.service.upper().replace("-", "_") + "_"
    keys = {f"{prefix}{k}".upper() for k in settings}
    lines = [f"{k}={v}" for k, v in sorted(env.items()) if k in keys]
    write_atomic(path / "recommended.env", "\n".join(lines) + "\n")
    compose = [f"# {c.name}: docker compose -f docker-compose.yml -f recommended.compose.yml up {c.service}",
               "# MODEL_*_MODEL_PATH is this machine's path: mount the model file at it in the container",
               "services:", f"  {c.service}:", "    environment:"]  # fmt: skip
    compose += [f"      {k}: {json.dumps(v)}" for k, v in (line.split("=", 1) for line in lines)]
    write_atomic(path / "recommended.compose.yml", "\n".join(compose) + "\n")
