"""Variants: named, declarative presets of one chain's servers and code paths.

A variant sets, for its chain's model API and scoring handler, the server, worker class and count,
HTTP client, fan-out mode, Redis client and model kind. ``make up VARIANT=name`` and the benchmarks
(``lab compare``) accept them. Presets list variants in an order that changes one factor at a time.
"""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass, field

from api_common.settings import cpu_count
from lab import proxy
from lab.stack import Stack, build_stack

CORES = cpu_count()
SYNC_WORKERS = 2 * CORES + 1
SEED_ASYNC_WORKERS = max(2, CORES)  # the original's image: one uvicorn worker per core, at least 2
MEINHELD = "meinheld.gmeinheld.MeinheldWorker"
UVICORN_WORKER = "uvicorn_worker.UvicornWorker"


@dataclass(frozen=True)
class Described:
    """What the report needs to know of a variant, as the run's manifest records it (never read from a name)."""

    name: str
    chain: str
    change: str
    role: str  # "default" (its chain's), "original" (the original lab's code paths) or ""
    default: str  # the variant of its chain it is measured against
    baseline: str  # the variant one factor apart it is measured against ("" for none): a batching one's unbatched twin
    model_kind: str  # the model backend (api_model/backends)
    floor: bool  # no framework: a bare app (api_common/frameworks/bare.py)
    batching: bool  # its model tier answers several predictions per model call
    point: dict[str, float] = field(default_factory=dict)  # a sweep's point: axis name to value (see AXES)
    swept: str = ""  # the variant a sweep's point is a point of


@dataclass(frozen=True)
class Variant:
    name: str
    chain: str  # "sync" or "async"
    change: str  # what it changes, in a phrase, for the decomposition table
    model: dict = field(default_factory=dict)
    scoring: dict = field(default_factory=dict)
    requires: tuple[str, ...] = ()  # importable modules it needs
    # The variant one factor apart it is measured against: a batching variant's unbatched twin.
    baseline: str = ""
    role: str = ""  # "default": its chain's default; "original": the original lab's code paths
    point: dict = field(default_factory=dict)  # a sweep's point: axis name to value
    swept: str = ""

    def describe(self) -> Described:
        """What the report needs, from the declaration and the settings it makes (its framework, backend, server)."""
        stack = stack_for(self)
        model = stack.model(self.chain).settings
        return Described(
            self.name, self.chain, self.change, self.role, default_of(self.chain), self.baseline, model.kind,
            stack.scoring(self.chain).settings.app == "bare",
            model.max_wait_ms is not None or not model.runner().runs_app, dict(self.point), self.swept,
        )  # fmt: skip

    def missing(self) -> list[str]:
        """What it needs that is not installed: its modules, and its model tier's server's own needs."""
        own = [m for m in self.requires if importlib.util.find_spec(m) is None] + self._programs()
        try:
            server = stack_for(self).model(self.chain).settings.runner()
        except ValueError as exc:  # a server whose module imports something absent
            return [*own, str(exc)]
        return own + [m for m in server.absent() if m not in own]

    def _programs(self) -> list[str]:
        """The programs it needs that are not found: nginx for a proxied chain."""
        fronted = self.scoring.get("proxy", "none") != "none"
        return ["nginx"] if fronted and proxy.find_binary(proxy.ProxySettings()) is None else []

    def install(self) -> str:
        """The make targets that install what it needs and is missing (``make servers`` for a model server or a
        real model, ``make venv`` for the rest), for every message that reports it missing."""
        try:
            server = stack_for(self).model(self.chain).settings.runner().install
        except ValueError:
            server = "make servers"
        own = [INSTALLED_BY.get(m, "make venv") for m in self.requires if importlib.util.find_spec(m) is None]
        own += ["make nginx" for _ in self._programs()]
        server_missing = [server] if len(self.missing()) > len(own) else []
        return " and ".join(dict.fromkeys(own + server_missing))

    def missing_text(self) -> str:
        """``xgboost, bentoml, not installed (make servers installs them)``: what it lacks and how to get it."""
        return f"{', '.join(self.missing())}, not installed ({self.install()} installs them)"

    def overrides(self) -> dict[str, dict]:
        return {f"model-{self.chain}": dict(self.model), f"scoring-{self.chain}": dict(self.scoring)}

    def concurrency(self) -> int | None:
        """Requests the scoring handler can hold at once, if its server bounds it (Little's law)."""
        return stack_for(self).scoring(self.chain).settings.concurrency()


def _gunicorn(worker_class: str, workers: int, **extra) -> dict:
    return {"server": "gunicorn", "worker_class": worker_class, "workers": workers, **extra}


HTTPX = {"client_library": "httpx"}  # httpx's own connection pool, as the original lab's chain had
SEED_CLIENTS = {"http_client": "per_request", "redis_client": "per_request"} | HTTPX
GTHREAD = _gunicorn("gthread", SYNC_WORKERS, threads=8)
GEVENT = _gunicorn("gevent", CORES)
SEED_ASYNC_SERVER = _gunicorn(UVICORN_WORKER, SEED_ASYNC_WORKERS)
GRANIAN = {"server": "granian"}
GRANIAN_WSGI = {"server": "granian", "workers": CORES, "threads": 8}
ORJSON = {"json_library": "orjson"}
# Dynamic batching in the model API (api_model/batching.py): Triton's max_batch_size and queue delay.
BATCHING = {"max_batch_size": 32, "max_wait_ms": 5.0}
# A threaded worker can batch (threads share its queue); one process, so every request meets the same queue.
BATCH_SYNC_MODEL = _gunicorn("gthread", 1, threads=64) | BATCHING
# The job queue's model tier: worker processes taking up to 32 jobs at a time from the model tier's Redis stream.
QUEUE_WORKERS = {"server": "queue_workers", "workers": CORES, "max_batch_size": 32}
# One process, its thread pool serving the app (waitress-serve --threads), as a neighbour lab ran its Flask classifier.
WAITRESS = {"server": "waitress", "threads": 16}
# The floor: no framework and no overload policy (a bare app has no middleware).
BARE = {"app": "bare", "admission": "off"}

REAL_MODELS = {
    "xgboost": ("XGBoost trees on the 8x8 digits", ("xgboost",)),
    "torch": ("a PyTorch MLP on the 8x8 digits", ("torch",)),
    "text": ("a MiniLM sentence encoder with a linear head (a BERT-family text model)", ("sentence_transformers",)),
}
MODEL_SERVERS = {
    "bentoml": ("BentoML, its adaptive batching", ("bentoml",)),
    "litserve": ("LitServe, its batching", ("litserve",)),
    "rayserve": ("Ray Serve, @serve.batch", ("ray",)),
    "torchserve": ("TorchServe (Java), its batching", ("ts", "model_archiver")),
    "triton": ("Triton through PyTriton, its dynamic batcher", ()),  # in a virtualenv of its own
}


# The make target that installs each optional module a variant may need: the real models' libraries and the model
# servers come with `make servers`; the rest with `make venv` (meinheld too, built there where it compiles).
OPTIONAL = (*REAL_MODELS.values(), *MODEL_SERVERS.values())
INSTALLED_BY = {module: "make servers" for _, needs in OPTIONAL for module in needs}

# Which model each server serves as a variant: the text model, where batching can pay on a CPU, on every server;
# the sub-millisecond ones on the servers users pair them with (BentoML with XGBoost, TorchServe and Triton with
# torch). The lab's own batching and queue on the text model only.
SERVER_MODELS = {"bentoml": ("text", "xgboost"), "litserve": ("text",), "rayserve": ("text",),
                 "torchserve": ("text", "torch"), "triton": ("text", "torch")}  # fmt: skip


def real_model_variants() -> list[Variant]:
    out = []
    for model, (said, needs) in REAL_MODELS.items():
        kind = {"kind": model}
        out.append(Variant(f"async-{model}", "async", f"{said}, on the FastAPI model API, unbatched", model=kind,
                           requires=needs))  # fmt: skip
        if model == "text":
            out += [
                Variant(f"async-batch-{model}", "async", f"{said}, the FastAPI model API batching dynamically (at "
                        "most 32, waiting at most 5 ms)", model=BATCHING | kind, requires=needs,
                        baseline=f"async-{model}"),
                Variant(f"async-queue-{model}", "async", f"{said}, on the job queue (batches of at most 32)",
                        model=QUEUE_WORKERS | kind, scoring={"model_transport": "queue"}, requires=needs,
                        baseline=f"async-{model}"),
            ]  # fmt: skip
    for server, models in SERVER_MODELS.items():
        server_said, server_needs = MODEL_SERVERS[server]
        for model in models:
            said, needs = REAL_MODELS[model]
            out.append(Variant(f"async-{server}-{model}", "async", f"{said}, served by {server_said} (at most 32, "
                               "waiting at most 5 ms)", model={"server": server} | BATCHING | {"kind": model},
                               requires=needs + server_needs, baseline=f"async-{model}"))  # fmt: skip
    return out


VARIANTS = {
    v.name: v
    for v in [
        # sync chain: Flask
        Variant("sync", "sync", "gunicorn sync workers (2 x cores + 1) instead of meinheld: the default chain",
                role="default"),
        Variant(
            "sync-seed", "sync", "the original: meinheld workers (2 per core), requests.post and a Redis "
            "connection per request, sequential calls",
            model=_gunicorn(MEINHELD, 2 * CORES), scoring=_gunicorn(MEINHELD, 2 * CORES) | SEED_CLIENTS,
            requires=("meinheld",), role="original",
        ),
        Variant("sync-concurrent", "sync", "model calls concurrent, from a thread pool",
                scoring={"fanout": "concurrent"}),
        Variant("sync-gthread", "sync", "gthread workers, 8 threads each (model API too)",
                model=GTHREAD, scoring=GTHREAD | {"fanout": "concurrent"}),
        Variant("sync-gevent", "sync", "gevent workers, one per core, monkey-patched greenlets (model API too)",
                model=GEVENT, scoring=GEVENT | {"fanout": "concurrent"}, requires=("gevent",)),
        Variant("sync-meinheld", "sync", "a shared requests.Session and Redis pool per worker (still meinheld)",
                model=_gunicorn(MEINHELD, 2 * CORES), scoring=_gunicorn(MEINHELD, 2 * CORES), requires=("meinheld",)),
        Variant("sync-cpu", "sync", "CPU-bound model (burns CPU for 40-50 ms)", model={"kind": "cpu"}),
        Variant("sync-granian", "sync", "granian's WSGI instead of gunicorn gthread: one worker per core, 8 blocking "
                "threads each (model API too)", model=GRANIAN_WSGI, scoring=GRANIAN_WSGI | {"fanout": "concurrent"},
                requires=("granian",)),
        Variant("sync-orjson", "sync", "orjson parses and renders the JSON bodies (both tiers)",
                model=ORJSON, scoring=ORJSON),
        Variant("sync-async-views", "sync", "an async def Flask view on the same gunicorn sync workers, model "
                "calls gathered: Flask runs a new event loop per request, so the async clients are per request",
                scoring={"endpoint": "async", "fanout": "concurrent"}, requires=("asgiref",)),
        Variant("sync-real", "sync", "a real model: scikit-learn's MLP on the 8x8 digits, its own compute time",
                model={"kind": "real"}, requires=("sklearn",)),
        Variant("sync-batch", "sync", "the model API batches concurrent predictions dynamically (at most 32, waiting "
                "at most 5 ms) in one gthread worker of 64 threads; scoring as sync-gthread",
                model=BATCH_SYNC_MODEL, scoring=GTHREAD | {"fanout": "concurrent"}, baseline="sync-gthread"),
        Variant("sync-queue", "sync", "the job-queue architecture: jobs on a Redis stream, answered in batches "
                "(at most 32) by a pool of model worker processes, one per core", model=QUEUE_WORKERS,
                scoring={"model_transport": "queue"}, baseline="sync"),
        Variant("sync-waitress", "sync", "waitress instead of gunicorn: one process, 16 threads (model API too), "
                "model calls concurrent", model=WAITRESS, scoring=WAITRESS | {"fanout": "concurrent"},
                requires=("waitress",), baseline="sync-gthread"),
        Variant("sync-nginx", "sync", "nginx in front of the scoring handler, buffering whole requests and answers "
                "(lab/proxy.py), as gunicorn's docs ask for sync workers", scoring={"proxy": "nginx"}, baseline="sync"),
        Variant("sync-floor", "sync", "the floor: no framework, a bare WSGI app doing the same steps on the same "
                "gunicorn sync workers, model calls concurrent (model API bare too)",
                model=BARE, scoring=BARE | {"fanout": "concurrent"}),
        # async chain: FastAPI
        Variant("async", "async", "aiohttp's client instead of httpx's own pool, and admission by queueing delay: "
                "the default chain", role="default"),
        Variant(
            "async-seed", "async", "the original: gunicorn + uvicorn workers, a new httpx client per request, "
            "a blocking Redis client with a new connection per request inside the handler",
            model=SEED_ASYNC_SERVER,
            scoring=SEED_ASYNC_SERVER | SEED_CLIENTS | {"redis_blocking": True},
            requires=("uvicorn_worker",), role="original",
        ),
        Variant(
            "async-seed-shared", "async", "one httpx.AsyncClient and one Redis pool per worker (still blocking)",
            model=SEED_ASYNC_SERVER, scoring=SEED_ASYNC_SERVER | HTTPX | {"redis_blocking": True},
            requires=("uvicorn_worker",),
        ),
        Variant(
            "async-gunicorn-uvicorn", "async", "non-blocking Redis (redis.asyncio), on gunicorn + uvicorn workers",
            model=SEED_ASYNC_SERVER, scoring=SEED_ASYNC_SERVER | HTTPX, requires=("uvicorn_worker",),
        ),
        Variant("async-nginx", "async", "nginx in front of the scoring handler, buffering whole requests and "
                "answers (lab/proxy.py)", scoring={"proxy": "nginx"}, baseline="async"),
        Variant("async-httpx", "async", "plain uvicorn, one worker per core, httpx's own connection pool (the "
                "default until its pool's cost was found to grow with its connections: doc/NOTEBOOK.md)",
                scoring=HTTPX),
        Variant("async-gunicorn-asgi", "async", "gunicorn's own asyncio ASGI worker",
                model=_gunicorn("asgi", CORES), scoring=_gunicorn("asgi", CORES)),
        Variant("async-httpx-aiohttp", "async", "httpx's API over aiohttp's transport (httpx-aiohttp) as the client "
                "to the models: the default until lab ablation found its API costing a fifth of the chain's CPU",
                scoring={"client_library": "httpx-aiohttp"}),
        Variant("async-admission-100", "async", "the delay policy's target at 100 ms, the sync chain's, instead of "
                "20 ms (scoring)", scoring={"admission_target_ms": 100.0}, baseline="async"),
        Variant("async-admission-50", "async", "the delay policy's target at 50 ms instead of 20 (scoring): between "
                "the default's protection past capacity and the 100 ms target's capacity at the knee",
                scoring={"admission_target_ms": 50.0}, baseline="async"),
        Variant("async-def", "async", "a def endpoint run in FastAPI's thread pool, with blocking clients",
                scoring={"endpoint": "def"}),
        Variant("async-cpu", "async", "CPU-bound model (burns CPU for 40-50 ms)", model={"kind": "cpu"}),
        Variant("async-granian", "async", "granian's ASGI instead of uvicorn, one worker per core (model API too)",
                model=GRANIAN, scoring=GRANIAN, requires=("granian",)),
        Variant("async-orjson", "async", "orjson parses and renders the JSON bodies (both tiers)",
                model=ORJSON, scoring=ORJSON),
        Variant("async-lean", "async", "every lighter part at once: orjson, on granian (aiohttp's client, as the "
                "default)", model=GRANIAN | ORJSON, scoring=GRANIAN | ORJSON,
                requires=("granian",)),
        Variant("async-real", "async", "a real model: scikit-learn's MLP on the 8x8 digits, its own compute time",
                model={"kind": "real"}, requires=("sklearn",)),
        Variant("async-batch", "async", "the model API batches concurrent predictions dynamically (at most 32, "
                "waiting at most 5 ms)", model=BATCHING, baseline="async"),
        Variant("async-batch-cpu", "async", "CPU-bound model, batched: one 40-50 ms burn per batch plus 0.5 ms per "
                "item", model=BATCHING | {"kind": "cpu"}, baseline="async-cpu"),
        Variant("async-batch-real", "async", "the real model, batched: one predict_proba per batch",
                model=BATCHING | {"kind": "real"}, requires=("sklearn",), baseline="async-real"),
        Variant("async-queue", "async", "the job-queue architecture: jobs on a Redis stream, answered in batches "
                "(at most 32) by a pool of model worker processes, one per core", model=QUEUE_WORKERS,
                scoring={"model_transport": "queue"}, baseline="async"),
        Variant("async-queue-real", "async", "the job queue with the real model: one predict_proba per batch",
                model=QUEUE_WORKERS | {"kind": "real"}, scoring={"model_transport": "queue"}, requires=("sklearn",),
                baseline="async-real"),
        # Real models (api_model/backends), on FastAPI unbatched, with the lab's batching, and on the model servers
        # users pick instead (api_common/servers: bentoml, litserve, rayserve, torchserve, triton), each with its
        # own batching at the same cap and wait.
        *real_model_variants(),
        Variant("async-quart", "async", "Quart (Flask's API on ASGI) instead of FastAPI, both tiers, on the same "
                "uvicorn workers", model={"app": "quart"}, scoring={"app": "quart"}, requires=("quart",)),
        Variant("async-starlette", "async", "Starlette, the toolkit under FastAPI, without FastAPI's validation and "
                "dependency injection, both tiers", model={"app": "starlette"}, scoring={"app": "starlette"}),
        Variant("async-floor", "async", "the floor: no framework, a bare ASGI app doing the same steps on the same "
                "uvicorn workers with the same aiohttp client (model API bare too)", model=BARE, scoring=dict(BARE)),
    ]
}  # fmt: skip

# The ablation walk (``lab ablation``, issue 35): from each chain's default down to its floor, one layer at a time,
# each step the one before with one more change, both tiers where the layer is in both. The lab's own layers first,
# then the client and the framework, whose last step is the floor; then the layers the floor keeps (its Server-Timing,
# deadlines and drain), below it. Each step: (tag, what it turns off or swaps, model tier, scoring tier).
LAB_LAYERS = {"metrics", "profiling", "admission", "timing", "deadlines", "drain"}  # the lab's own, not a framework's
CLIENT_STEPS = {"aiohttp", "concurrent"}  # how the scoring handler calls its models
WALKS = {
    "async": [
        ("metrics", "Prometheus metrics off (both tiers)", {"metrics": False}, {"metrics": False}),
        ("profiling", "the ?profile= hook off (both tiers)", {"profiling_hook": False}, {"profiling_hook": False}),
        ("admission", "the overload policy off (scoring; the model tier has none)", {"admission": "off"},
         {"admission": "off"}),
        ("starlette", "Starlette instead of FastAPI: no body validation by the framework, no dependency injection, "
         "no response model (both tiers)", {"app": "starlette"}, {"app": "starlette"}),
        ("floor", "no framework: the bare ASGI app, its own routing and request reading (both tiers): the floor",
         {"app": "bare"}, {"app": "bare"}),
        ("timing", "the Server-Timing header off (scoring)", {}, {"server_timing": False}),
        ("deadlines", "deadlines off: no budget read nor sent on (scoring)", {}, {"deadlines": False}),
        ("drain", "the drain of unread bodies off (both tiers)", {"drain": False}, {"drain": False}),
    ],
    "sync": [
        ("metrics", "Prometheus metrics off (both tiers)", {"metrics": False}, {"metrics": False}),
        ("profiling", "the ?profile= hook off (both tiers)", {"profiling_hook": False}, {"profiling_hook": False}),
        ("admission", "the overload policy off (scoring; the model tier has none)", {"admission": "off"},
         {"admission": "off"}),
        ("concurrent", "the two model calls concurrent, from a thread pool (scoring)", {}, {"fanout": "concurrent"}),
        ("floor", "no framework: the bare WSGI app, its own routing and request reading (both tiers): the floor",
         {"app": "bare"}, {"app": "bare"}),
        ("timing", "the Server-Timing header off (scoring)", {}, {"server_timing": False}),
        ("deadlines", "deadlines off: no budget read nor sent on (scoring)", {}, {"deadlines": False}),
        ("drain", "the drain of unread bodies off (both tiers)", {"drain": False}, {"drain": False}),
    ],
}  # fmt: skip


def walk(chain: str) -> list[Variant]:
    """The ablation walk of ``chain``: its default, then one step per layer (``WALKS``), each the step before with
    one more change."""
    steps = [VARIANTS[default_of(chain)]]
    model, scoring = {}, {}
    for tag, change, model_change, scoring_change in WALKS[chain]:
        model, scoring = model | model_change, scoring | scoring_change
        steps.append(Variant(f"{chain}-walk-{tag}", chain, f"the step before, {change}", model=dict(model),
                             scoring=dict(scoring), baseline=steps[-1].name))  # fmt: skip
    return steps


PRESETS = {
    # From the original lab's pair, one factor at a time, then the CPU-bound model for both chains.
    "decomposition": [
        "async-seed", "async-seed-shared", "async-gunicorn-uvicorn", "async-httpx", "async-httpx-aiohttp", "async",
        "async-cpu",
        "sync-seed", "sync-meinheld", "sync", "sync-concurrent", "sync-gthread", "sync-gevent", "sync-cpu",
    ],
    "defaults": ["sync", "async"],
    # Batching against the request-per-call twins, on the simulated and the real models.
    "batching": ["async", "async-batch", "async-queue", "async-cpu", "async-batch-cpu", "async-real",
                 "async-batch-real", "async-queue-real", "sync", "sync-gthread", "sync-batch", "sync-queue",
                 "sync-real"],
    "servers": ["async", "async-gunicorn-uvicorn", "async-gunicorn-asgi", "async-granian", "async-def", "sync",
                "sync-gthread", "sync-granian", "sync-gevent", "sync-meinheld", "sync-async-views"],
    # What users would pick instead, each from its chain's default, with the floor under them.
    "alternatives": ["async-floor", "async", "async-granian", "async-httpx", "async-httpx-aiohttp", "async-orjson",
                     "async-lean", "async-starlette", "async-quart", "sync-floor", "sync", "sync-gthread",
                     "sync-granian", "sync-orjson", "sync-async-views", "sync-waitress"],
    # Frameworks and a server beside the defaults and the floor: FastAPI's own cost between Starlette and the floor.
    # The model servers against FastAPI on the same real model: unbatched, with the lab's batching, on the queue.
    "model-servers": ["async-text", "async-batch-text", "async-queue-text"]
    + [f"async-{server}-text" for server in MODEL_SERVERS]
    + ["async-xgboost", "async-bentoml-xgboost", "async-torch", "async-torchserve-torch", "async-triton-torch"],
    "frameworks": ["async-floor", "async-starlette", "async", "async-quart", "sync", "sync-gthread", "sync-waitress"],
}  # fmt: skip


def default_of(chain: str) -> str:
    """The name of ``chain``'s default variant (the one whose role says so)."""
    return next(v.name for v in VARIANTS.values() if v.chain == chain and v.role == "default")


VARIANTS |= {v.name: v for chain in WALKS for v in walk(chain)[1:]}
PRESETS["ablation"] = [v.name for chain in ("async", "sync") for v in walk(chain)]


def get(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}") from None


def expand(names: list[str]) -> list[Variant]:
    """Variants from names and preset names, in order, each once (presets share their defaults)."""
    out = []
    for name in names:
        out += [get(n) for n in PRESETS[name]] if name in PRESETS else [get(name)]
    return list({v.name: v for v in out}.values())


@dataclass(frozen=True)
class Axis:
    """A setting a sweep varies: in which tier, and how a point's name and description say it."""

    tier: str  # "model" or "scoring"
    setting: str
    tag: str  # a point's name is the variant's plus tag and value per axis: async-w2, async-batch-wait5-cap8
    label: str


AXES = {
    "workers": Axis("scoring", "workers", "w", "scoring workers"),
    "max_wait_ms": Axis("model", "max_wait_ms", "wait", "max wait ms"),
    "max_batch_size": Axis("model", "max_batch_size", "cap", "batch cap"),
}
SWEEP_WORKERS = (1, 2, 3, 5, 8)
# The batching frontier: Triton's queue delay and batch cap (issue 11's grid).
SWEEP_MAX_WAIT_MS = (0, 2, 5, 10, 20)
SWEEP_BATCH_CAPS = (8, 32)


def sweep(name: str, grid: dict[str, tuple]) -> list[Variant]:
    """``name`` at every point of ``grid`` (axis name to values, see ``AXES``), the rest of it unchanged."""
    v = get(name)
    points = []
    for values in itertools.product(*grid.values()):
        tiers: dict[str, dict] = {"model": dict(v.model), "scoring": dict(v.scoring)}
        for axis, value in zip(grid, values, strict=True):
            tiers[AXES[axis].tier][AXES[axis].setting] = value
        tag = "-".join(f"{AXES[a].tag}{x:g}" for a, x in zip(grid, values, strict=True))
        said = ", ".join(f"{AXES[a].label} {x:g}" for a, x in zip(grid, values, strict=True))
        points.append(Variant(f"{v.name}-{tag}", v.chain, f"{v.name} with {said}", model=tiers["model"],
                              scoring=tiers["scoring"], requires=v.requires, baseline=v.baseline,
                              point=dict(zip(grid, values, strict=True)), swept=v.name))  # fmt: skip
    return points


def stack_for(variant: Variant, base: dict[str, dict] | None = None) -> Stack:
    """The stack with ``variant`` applied on top of ``base`` overrides (its chain only changes)."""
    overrides = {k: dict(v) for k, v in (base or {}).items()}
    for service, values in variant.overrides().items():
        overrides.setdefault(service, {}).update(values)
    return build_stack(overrides)
