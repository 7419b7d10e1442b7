"""The experiments that compare the chains, and the report built from their raw outputs."""
