"""``cpu``: the simulated model that burns CPU for its 40-50 ms (a CPU-bound model of the same latency)."""

from api_model.backends import Backend, simulated_ms
from api_model.backends.io import BACKEND as IO

BACKEND = Backend("cpu", IO.scores, simulated_ms, burns=True, describes="simulated: burns CPU for its latency")
