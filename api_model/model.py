"""The simulated model: a fixed logistic regression whose weights come from the model's name.

The score is deterministic so that a test can check a prediction end to end; the latency is
drawn uniformly from the configured range, to stand in for a real model's inference time.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from functools import lru_cache

from api_model.schemas import MAX_FEATURES

# Features are clipped before scoring so that huge finite inputs cannot overflow the sum.
CLIP = 1e6


@lru_cache(maxsize=64)
def weights(model_name: str) -> tuple[tuple[float, ...], float]:
    """Weights and bias of ``model_name``, derived from a hash of the name."""
    seed = int.from_bytes(hashlib.sha256(model_name.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    return tuple(rng.uniform(-1.0, 1.0) for _ in range(MAX_FEATURES)), rng.uniform(-0.5, 0.5)


def score(model_name: str, features: list[float]) -> float:
    """Deterministic score in [0, 1] of ``features`` by ``model_name``."""
    w, bias = weights(model_name)
    # zip stops at the features: a model holds weights for the longest input it accepts.
    dot = sum(wi * max(-CLIP, min(CLIP, x)) for wi, x in zip(w, features, strict=False))
    z = bias + dot / math.sqrt(len(features))
    # Numerically stable logistic.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def draw_latency_ms(low: float, high: float, rng: random.Random | None = None) -> float:
    return (rng or random).uniform(low, high)


def burn_cpu(seconds: float) -> None:
    """Busy-wait for ``seconds`` of wall time: a CPU-bound model of the same latency."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
