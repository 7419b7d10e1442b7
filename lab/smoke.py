"""Send one prediction through each chain and check it against the value computed locally."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from api_common.contract import CHAINS, SAMPLE
from api_model.service import predictions
from api_scoring.service import model_names
from feature_store.entities import entity_features
from lab.stack import Stack


@dataclass
class SmokeResult:
    chain: str
    status: int | None
    prediction: float | None
    expected: float
    latency_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.prediction is not None and abs(self.prediction - self.expected) < 1e-9


def expected_prediction(stack: Stack, chain: str, features: list[float] = SAMPLE) -> float:
    """What the scoring handler of ``chain`` must answer for ``features`` on the default entity."""
    settings = stack.scoring(chain).settings
    joined = entity_features(settings.default_entity_id, stack.redis.features_per_entity) + list(features)
    model = stack.model(chain).settings  # its kind decides the function (a real model computes it too)
    scores = [predictions(model, name, [joined])[0] for name in model_names(settings)]
    return sum(scores) / len(scores)


def predict_once(stack: Stack, chain: str, client: httpx.Client) -> SmokeResult:
    expected = expected_prediction(stack, chain)
    t0 = time.perf_counter()
    try:
        resp = client.post(stack.scoring(chain).predict_url, json=SAMPLE)
    except httpx.HTTPError as exc:
        return SmokeResult(chain, None, None, expected, (time.perf_counter() - t0) * 1000, repr(exc))
    latency = (time.perf_counter() - t0) * 1000
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    prediction = body.get("detail") if isinstance(body.get("detail"), (int, float)) else None
    error = None if resp.status_code == 200 else str(body.get("message", resp.text[:200]))
    return SmokeResult(chain, resp.status_code, prediction, expected, latency, error)


def smoke(stack: Stack) -> list[SmokeResult]:
    with httpx.Client(timeout=5.0) as client:
        return [predict_once(stack, chain, client) for chain in CHAINS]


def table(results: list[SmokeResult]) -> str:
    lines = [f"{'chain':<7} {'status':>6} {'prediction':>12} {'expected':>12} {'latency':>10}  check"]
    for r in results:
        pred = f"{r.prediction:.6f}" if r.prediction is not None else "-"
        check = "ok" if r.ok else f"FAIL {r.error or 'wrong prediction'}"
        status = r.status or "-"
        latency = f"{r.latency_ms:.1f} ms"
        lines.append(f"{r.chain:<7} {status:>6} {pred:>12} {r.expected:>12.6f} {latency:>10}  {check}")
    return "\n".join(lines)
