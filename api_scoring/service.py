"""The scoring steps both twins share: plan, join, interpret a model answer, aggregate, time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from api_common import deadline, jobqueue
from api_common.deadline import Deadline
from api_common.errors import ApiError
from api_common.overload import overloaded
from api_common.protocols import Protocol
from api_model.schemas import MAX_FEATURES
from api_scoring.schemas import EntityRequest
from api_scoring.settings import ScoringSettings
from feature_store.entities import decode, key


@dataclass(frozen=True)
class Plan:
    entity_id: str
    redis_key: str
    features: list[float]


def plan(settings: ScoringSettings, body: list[float] | EntityRequest) -> Plan:
    """The array form scores the default entity; the object form names its entity."""
    if isinstance(body, EntityRequest):
        entity_id, features = body.entity_id, body.features
    else:
        entity_id, features = settings.default_entity_id, body
    return Plan(entity_id, key(settings.key_prefix, entity_id), features)


def join(p: Plan, stored: bytes | None) -> list[float]:
    """Entity features from the store followed by the request's own."""
    if stored is None:
        raise ApiError(404, "entity_not_found", f"no features stored for entity {p.entity_id!r}")
    joined = decode(stored) + p.features
    if len(joined) > MAX_FEATURES:
        raise ApiError(422, "validation_error", f"too many features: {len(joined)} after the join, max {MAX_FEATURES}")
    return joined


def model_names(settings: ScoringSettings) -> list[str]:
    return [f"model-{i + 1}" for i in range(settings.n_models)]


def queued_score(got: dict[str, float], raw: bytes | str) -> None:
    """Record one answer from the job queue's reply list in ``got`` (model name to score); a re-delivered
    job may answer twice, and its first answer stands."""
    model, status, body = jobqueue.read_answer(raw)
    got.setdefault(model, model_score(status, body))


def model_request(protocol: Protocol, name: str, features: list[float], profile: str | None) -> tuple[dict, Any]:
    """The query parameters and JSON body of one model call in the model tier's protocol. A profiled
    request is profiled down the chain: the lab's model API is asked to profile too."""
    params, body = protocol.request(features, name)
    return (params | {"profile": profile} if profile and protocol.name == "lab" else params), body


REFUSED = (429, 503)  # a model tier's answers that say "not now": overloaded, not broken


def model_score(status: int, body: Any) -> float:
    """The score from a model API answer; a refusal by overload (a 503 or 429: the lab's overload policy, or a
    model server's own, such as BentoML's batches that cannot meet their ``max_latency_ms``) is passed on as this
    service's own (503 with Retry-After: a client may retry it); any other answer that is not a prediction is a
    502."""
    if status in REFUSED:
        raise overloaded(f"the model API refused the call (HTTP {status}): it is overloaded")
    if status != 200:
        raise ApiError(502, "model_error", f"model API answered HTTP {status}")
    try:
        return float(body["detail"])
    except (TypeError, KeyError, ValueError):
        raise ApiError(502, "model_error", "model API answered without a numeric 'detail'") from None


def aggregate(entity_id: str, scores: list[float]) -> dict[str, Any]:
    return {"detail": sum(scores) / len(scores), "predictions": scores, "entity_id": entity_id}


def redis_unavailable(exc: Exception) -> ApiError:
    return ApiError(503, "feature_store_unavailable", f"feature store unavailable: {type(exc).__name__}")


def model_unreachable(exc: Exception) -> ApiError:
    return ApiError(502, "model_unreachable", f"model API unreachable: {type(exc).__name__}")


# What a client library says when the server closed the connection before any answer (http.client's, aiohttp's,
# httpx's); named, not imported: this module knows no client library.
CLOSED_BEFORE_ANSWER = ("RemoteDisconnected", "ServerDisconnectedError", "RemoteProtocolError")


def closed_before_answer(exc: BaseException | None) -> bool:
    """Whether a model call failed because the server closed its connection before answering: a kept-alive
    connection closed just as the call went out on it (nginx's old workers close their idle ones on a reload, any
    server at its keep-alive timeout; seen as 1 failed request in 4,500 across a blue/green switch, 2026-12-05). A
    prediction changes nothing, so such a call is sent once more. Looks through causes, contexts and the arguments
    that requests and urllib3 wrap their causes in."""
    todo, seen = [exc], 0
    while todo and seen < 16:
        e = todo.pop()
        if e is None:
            continue
        seen += 1
        if isinstance(e, ConnectionResetError | BrokenPipeError) or type(e).__name__ in CLOSED_BEFORE_ANSWER:
            return True
        todo += [e.__cause__, e.__context__, *(a for a in e.args if isinstance(a, BaseException))]
    return False


def model_timeout(timeout_s: float) -> ApiError:
    return ApiError(504, "model_timeout", f"model API did not answer within {max(timeout_s, 0):.3g} s")


def request_deadline(settings: ScoringSettings, header: str | None) -> Deadline | None:
    """This request's deadline: the handler's budget (by default its model timeout: the whole request takes no
    longer than one model call may), or the caller's (``deadline.HEADER``) if less; None with the ``deadlines``
    layer off (each model call bounded by its own timeout alone, no budget sent on)."""
    if not settings.deadlines:
        return None
    budget_ms = settings.request_budget_ms
    return deadline.of(header, settings.model_timeout_s if budget_ms is None else budget_ms / 1000)


def call_timeout(settings: ScoringSettings, d: Deadline | None) -> float:
    """A model call's timeout: the setting's, or what is left of the request's budget if that is less."""
    return settings.model_timeout_s if d is None else d.bound(settings.model_timeout_s)


def timings(settings: ScoringSettings) -> Timings | None:
    """A request's step clock, when a layer reads it: the Server-Timing header or the step metrics."""
    return Timings() if settings.server_timing or settings.metrics else None


def timed(settings: ScoringSettings, metrics, t: Timings | None) -> dict[str, str]:
    """Record the steps' times in ``metrics`` (when on), and the answer's Server-Timing header (when on)."""
    if t is None:
        return {}
    metrics.observe_steps(t.spans)
    return {"Server-Timing": t.header()} if settings.server_timing else {}


@dataclass
class Timings:
    """Wall time per step, sent back as a W3C ``Server-Timing`` header."""

    start: float = field(default_factory=time.perf_counter)
    spans: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.spans[name] = (now - since) * 1000
        return now

    def header(self) -> str:
        total = (time.perf_counter() - self.start) * 1000
        parts = [f"{name};dur={ms:.2f}" for name, ms in self.spans.items()]
        return ", ".join([*parts, f"total;dur={total:.2f}"])


def score(settings: ScoringSettings, body: list[float] | EntityRequest, store, fanout, profile: str | None,
          timings: Timings | None, deadline: Deadline | None = None) -> dict[str, Any]:  # fmt: skip
    """One prediction with blocking clients (the Flask app, the FastAPI ``def`` endpoint). Redis comes first
    and its timeout (0.5 s) is under the budget; the model calls are bounded by what it leaves."""
    p = plan(settings, body)
    if timings is None:
        return aggregate(p.entity_id, fanout.scores(join(p, store.get(p.redis_key)), profile, deadline))
    t = time.perf_counter()
    stored = store.get(p.redis_key)
    t = timings.mark("redis", t)
    scores = fanout.scores(join(p, stored), profile, deadline)
    timings.mark("models", t)
    return aggregate(p.entity_id, scores)


async def score_async(
    settings: ScoringSettings, body: list[float] | EntityRequest, store, fanout, profile: str | None,
    timings: Timings | None, deadline: Deadline | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The same steps with non-blocking clients (the FastAPI app)."""
    p = plan(settings, body)
    if timings is None:
        return aggregate(p.entity_id, await fanout.scores(join(p, await store.get(p.redis_key)), profile, deadline))
    t = time.perf_counter()
    stored = await store.get(p.redis_key)
    t = timings.mark("redis", t)
    scores = await fanout.scores(join(p, stored), profile, deadline)
    timings.mark("models", t)
    return aggregate(p.entity_id, scores)
