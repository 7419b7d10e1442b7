"""LitServe as the model tier: a ``LitAPI`` whose ``predict`` takes LitServe's own batches.

``python -m api_model.model_servers.litserve``: ``workers`` worker processes (LitServe's
``workers_per_device`` on the CPU), batches of at most ``max_batch_size`` gathered for at most
``max_wait_ms`` (LitServe's ``batch_timeout``; 5 ms when the settings leave batching off). LitServe hands
``decode_request`` the parsed body only, not the query, so the model's name travels in the body: the
``json`` protocol, ``{"features": [...], "model": NAME}`` on the lab's predict path; its health check
answers ``ok`` as text. A body that is not JSON, or too large, gets the lab's 400 or 413 from a middleware in
front of LitServe (LitServe answers 500 to one). No client file is written; nothing is fetched.
"""

from __future__ import annotations

import json
import sys

import litserve as ls  # noqa: E402
from fastapi import HTTPException  # noqa: E402

from api_common.contract import HEALTH_PATH, predict_path
from api_common.errors import ApiError
from api_common.validation import too_large
from api_model.model_servers import Batches, item, load_settings


class JsonBodies:
    """ASGI middleware: a POST whose body is not JSON, or larger than the settings allow, is answered here."""

    def __init__(self, app, max_bytes: int = 1 << 20):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _answer(send, too_large(self.max_bytes))
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            json.loads(body)
        except ValueError:
            return await _answer(send, ApiError(400, "invalid_json", "request body is not valid JSON"))
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


async def _answer(send, err: ApiError) -> None:
    data = json.dumps(err.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class Scorer(ls.LitAPI):
    """At module level: LitServe's workers are spawned processes, which unpickle it."""

    def setup(self, device):
        self.batches = Batches()

    def decode_request(self, request):
        try:
            return item(request, self.batches.settings.default_model)
        except ApiError as err:  # LitServe answers an HTTPException's detail as {"detail": ...}
            raise HTTPException(status_code=err.status, detail=err.body()) from None

    def batch(self, inputs):
        return inputs

    def predict(self, items):
        return self.batches.answer(list(items))

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        return output


def main() -> int:
    settings = load_settings()
    wait_s = (settings.max_wait_ms if settings.max_wait_ms is not None else 5.0) / 1000
    api = Scorer(max_batch_size=settings.max_batch_size, batch_timeout=wait_s, api_path=predict_path(settings.chain))
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=settings.worker_count(),
                          healthcheck_path=HEALTH_PATH, timeout=10,
                          middlewares=[(JsonBodies, {"max_bytes": settings.max_body_bytes})])  # fmt: skip
    server.run(host=settings.host, port=settings.port, generate_client_file=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
