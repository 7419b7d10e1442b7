"""One small interface over Flask's and FastAPI's test clients, so each test runs on both twins."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    text: str = ""


class FlaskClient:
    def __init__(self, app):
        self.client = app.test_client()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def request(self, method: str, path: str, content: bytes | None = None, headers: dict | None = None) -> Reply:
        resp = self.client.open(path, method=method, data=content, headers=headers or {})
        return Reply(resp.status_code, resp.get_json(silent=True), dict(resp.headers), resp.get_data(as_text=True))


class FastAPIClient:
    def __init__(self, app):
        self.client = TestClient(app, raise_server_exceptions=False)

    def __enter__(self):
        self.client.__enter__()  # runs the lifespan: shared clients are opened
        return self

    def __exit__(self, *exc):
        self.client.__exit__(*exc)

    def request(self, method: str, path: str, content: bytes | None = None, headers: dict | None = None) -> Reply:
        resp = self.client.request(method, path, content=content, headers=headers or {})
        try:
            body = resp.json()
        except ValueError:
            body = None
        return Reply(resp.status_code, body, dict(resp.headers), resp.text)


def post_json(client, path: str, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    headers = {"Content-Type": "application/json"} | (headers or {})
    return client.request("POST", path, jsonlib.dumps(payload).encode(), headers)
