"""The model API: a simulated model served by Flask (sync) and FastAPI (async)."""
