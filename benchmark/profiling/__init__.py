"""Experiment 1: profile one prediction through each chain, client side and server side."""
