"""Deterministic precomputed features per entity, and how they are stored in Redis."""

from __future__ import annotations

import json
import random


def entity_features(entity_id: str, n: int = 4) -> list[float]:
    """The precomputed features of ``entity_id``: the same on every run and machine."""
    rng = random.Random(f"entity:{entity_id}")
    return [round(rng.uniform(0.0, 8.0), 3) for _ in range(n)]


def key(prefix: str, entity_id: str) -> str:
    return f"{prefix}{entity_id}"


def encode(features: list[float]) -> bytes:
    return json.dumps(features, separators=(",", ":")).encode()


def decode(raw: bytes | str) -> list[float]:
    return [float(x) for x in json.loads(raw)]
