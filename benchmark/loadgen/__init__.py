"""Experiment 4: capacity at a p99 latency bound, open loop, with MLPerf LoadGen (Server scenario)."""
