"""How a figure is drawn: the report's HTML sections and tables, and its plots. Knows no experiment: the
experiments and the report builder (``benchmark.report``) call it."""
