"""The lab's contract with its users, in one place: chains, services, paths and the sample request."""

from __future__ import annotations

CHAINS = ("sync", "async")  # the Flask twin and the FastAPI twin
ROLES = ("model", "scoring")
SERVICES = tuple(f"{role}-{chain}" for chain in CHAINS for role in ROLES)  # model-sync, scoring-sync, ...
HEALTH_PATH = "/api/v1/healthcheck"
METRICS_PATH = "/metrics"
SAMPLE = [5.1, 3.5, 1.4, 0.2]  # the README's sample request: one iris flower's four measurements


def predict_path(chain: str) -> str:
    """``/api/v1/ml/sync/predict`` or ``/api/v1/ml/async/predict``: both tiers of a chain use its path."""
    return f"/api/v1/ml/{chain}/predict"


def batch_path(chain: str) -> str:
    """The model API's batch endpoint: a JSON list of feature vectors, answered by a list in the same order."""
    return f"{predict_path(chain)}/batch"
