"""The feature store: a real Redis server started by the lab, and the loader that fills it."""
