"""A container's health check in the standard library alone: ``python -S lab/probe.py``; the images run its twin in bash
(``lab/probe.sh``, no interpreter at all: 2.2 ms of CPU a check against this one's 52 ms), and this is the reference
its tests compare it with.

``lab serve NAME`` writes what to check into ``$LAB_STATE_DIR/health.json`` before it starts the service (the same
URL and answer ``lab health`` checks: one source); this script reads it and checks with the standard library alone,
``-S`` keeping even site-packages out. ``python -m cli health`` imports the lab and its dependencies: 0.57 s of CPU
per check measured here, so five containers checked every 5 s took about 0.6 of a core from the services they
checked (issue 36); this one took 0.08 s, about a seventh. Exit 0 when healthy, 1 when not.
"""

import http.client
import json
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

FILE = "health.json"
TIMEOUT_S = 2.0


def where(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / FILE


def healthy(check: dict, timeout: float = TIMEOUT_S) -> bool:
    """``{"redis_port": N}``: a PING answered +PONG; ``{"url": U, "lab_json": B}``: a 200 (with the lab's
    ``{"status": "OK"}`` when B)."""
    try:
        if "redis_port" in check:
            with socket.create_connection(("127.0.0.1", check["redis_port"]), timeout=timeout) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        url = urlsplit(check["url"])
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
        try:
            conn.request("GET", url.path or "/")
            reply = conn.getresponse()
            body = reply.read()
        finally:
            conn.close()
        return reply.status == 200 and (not check.get("lab_json", True) or json.loads(body).get("status") == "OK")
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        return False


if __name__ == "__main__":
    try:
        wanted = json.loads(where(os.environ.get("LAB_STATE_DIR", ".lab")).read_text())
    except (OSError, ValueError):
        sys.exit(1)  # not written yet: the service has not started
    sys.exit(0 if healthy(wanted) else 1)
