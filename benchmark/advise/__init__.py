"""The advisor (``lab advise``): which configuration to run for a user's model on this machine, found by a race of
candidates measured in interleaved rounds and dropped only on the lab's paired intervals."""
