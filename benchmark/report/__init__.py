"""The report: a pure function of a run folder (``lab report RUN_DIR`` rebuilds it)."""
