"""How a scoring handler asks its model tier for one prediction: the lab's contract, or a model server's.

The lab's own model APIs (every framework and server) and Ray Serve take the contract: ``POST
/api/v1/ml/<chain>/predict?model=NAME`` with the feature vector as the body, answered ``{"detail": score,
...}``. A model server whose handler sees only the body (BentoML, LitServe, TorchServe) takes the model's
name in it, ``{"features": [...], "model": NAME}`` on its own path; Triton speaks KServe's v2 inference
protocol, whose tensors are named and typed. A model server's module of api_common/servers names its
protocol; the lab wires the scoring handler to it (lab/stack.py). Every protocol's answer is read back into
the contract's shape, so ``service.model_score`` reads one shape, the errors included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Protocol:
    name: str
    # (features, model name) -> (query parameters, JSON body) of one prediction
    request: Callable[[list[float], str], tuple[dict[str, str], Any]]
    # the answer's JSON -> the contract's shape (a dict with "detail"); an error's JSON passes through
    answer: Callable[[Any], Any] = lambda body: body


def _lab(features: list[float], name: str) -> tuple[dict, Any]:
    return {"model": name}, features


def _json(features: list[float], name: str) -> tuple[dict, Any]:
    return {}, {"features": features, "model": name}


def _first(body: Any) -> Any:
    """BentoML's batchable API answers a list per request (its batch of one)."""
    return body[0] if isinstance(body, list) and len(body) == 1 else body


def _kserve(features: list[float], name: str) -> tuple[dict, Any]:
    return {}, {"inputs": [
        {"name": "features", "shape": [1, len(features)], "datatype": "FP64", "data": features},
        {"name": "model", "shape": [1, 1], "datatype": "BYTES", "data": [name]},
    ]}  # fmt: skip


def _kserve_answer(body: Any) -> Any:
    try:
        outputs = {o["name"]: o["data"] for o in body["outputs"]}
        return {"detail": float(outputs["score"][0])}
    except (TypeError, KeyError, IndexError, ValueError):
        return body  # an error, or not a prediction: model_score says which


PROTOCOLS = {
    p.name: p
    for p in [
        Protocol("lab", _lab),
        Protocol("json", _json),
        Protocol("bentoml", lambda f, n: ({}, {"items": [{"features": f, "model": n}]}), _first),
        Protocol("kserve", _kserve, _kserve_answer),
    ]
}


def get(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown model protocol {name!r}; known: {', '.join(PROTOCOLS)}") from None
