"""The job-queue architecture's protocol, on Redis's own primitives: a stream with a consumer group.

A caller (the scoring handler) adds one job per model call to the model tier's stream (``XADD``) and waits
for the answers on a reply list of its own (``BLPOP``, with its timeout). A model worker reads up to
``max_batch_size`` jobs at once for its consumer group (``XREADGROUP``), answers them with one batched
model call per model name, pushes each answer to its caller's reply list (``LPUSH``, with a TTL so an
answer nobody waits for does not stay), and acknowledges the jobs (``XACK``). A job whose worker died
before acknowledging it stays pending in the group; another worker claims it once it has been idle for
``claim_idle_ms`` (``XAUTOCLAIM``) and answers it: re-delivered, not lost. A caller that waited its whole
timeout answers a clear 504. Redis does the delivery; the lab writes none of it by hand.

A job carries its caller's deadline (wall-clock time, the caller's timeout from when it was queued). A
worker that reaches a job past its deadline answers it ``504 job_expired`` without running the model:
its caller has already answered 504, and a queue behind an overload would otherwise spend the workers
on answers nobody waits for (the backlog would outlive the overload).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

GROUP = "model-workers"
REPLY_TTL_S = 60  # an answer whose caller gave up is dropped after this
STREAM_MAX_LEN = 100_000  # the stream is trimmed (approximately) past this many entries


def stream(model_url: str) -> str:
    """The job stream of the model tier at ``model_url``: named by its port (the same seen from the scoring
    handler and from the tier itself, on one host or in a container), so that two model tiers in one Redis
    (``lab compare`` runs variants side by side) never take each other's jobs."""
    return f"lab:jobs:{urlsplit(model_url).port}"


def reply_key(request_id: str) -> str:
    return f"lab:reply:{request_id}"


@dataclass(frozen=True)
class QueuedJob:
    entry_id: str  # the stream entry's id
    request_id: str
    model: str
    features: list[float]
    deadline: float | None = None  # time.time() after which the caller no longer waits

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now > self.deadline


def new_request_id() -> str:
    return uuid.uuid4().hex


def job_fields(request_id: str, model: str, features: list[float], timeout_s: float) -> dict[str, str]:
    """A job's stream entry; its deadline is ``timeout_s`` from now, the caller's wait for its answer."""
    return {"request": request_id, "model": model, "features": json.dumps(features),
            "deadline": repr(time.time() + timeout_s)}  # fmt: skip


def add_jobs(pipe, stream_key: str, request_id: str, models: list[str], features: list[float], timeout_s: float):
    """One job per model on ``pipe`` (a redis-py pipeline, blocking or asyncio: the caller executes it)."""
    for name in models:
        pipe.xadd(stream_key, job_fields(request_id, name, features, timeout_s), maxlen=STREAM_MAX_LEN,
                  approximate=True)  # fmt: skip


def parse_entry(entry_id: bytes | str, fields: dict) -> QueuedJob:
    get = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
           for k, v in fields.items()}  # fmt: skip
    eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    deadline = float(get["deadline"]) if "deadline" in get else None
    return QueuedJob(eid, get["request"], get["model"], json.loads(get["features"]), deadline)


def answer(model: str, status: int, body: dict) -> str:
    """What a worker pushes to a reply list: the model name, an HTTP-like status and the body."""
    return json.dumps({"model": model, "status": status, "body": body})


def read_answer(raw: bytes | str) -> tuple[str, int, dict]:
    data = json.loads(raw)
    return data["model"], data["status"], data["body"]
