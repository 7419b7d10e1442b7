"""Experiment 3: Locust scenarios (one per locustfile) and the runner that drives them headless."""
