"""``io``: the simulated model that waits 40-50 ms (a remote or accelerator-bound model)."""

from api_model.backends import Backend, simulated_ms
from api_model.model import score


def _scores(settings, name: str, items: list[list[float]]) -> list[float]:
    return [score(name, features) for features in items]


BACKEND = Backend("io", _scores, simulated_ms, describes="simulated: waits its latency")
