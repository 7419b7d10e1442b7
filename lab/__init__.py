"""The lab: starts the twin chains on one machine and runs the experiments that compare them."""
