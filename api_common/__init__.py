"""Framework-free pieces shared by the Flask and FastAPI twins: settings base, errors, body parsing."""
