"""The ``lab`` command: the top floor, the one place that reads a user's words and calls the floors below it."""
