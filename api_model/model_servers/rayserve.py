"""Ray Serve as the model tier: a local Ray instance, one deployment answering the lab's contract.

With ``LAB_RAY_ADDRESS`` set it joins a Ray cluster started apart instead (compose's ``ray`` profile: a head
container and ``RAY_WORKERS`` worker containers) and places each replica on a worker's CPU.

``python -m api_model.model_servers.rayserve``: starts Ray in this process (``ray.init``: its GCS, raylet and
workers are this process's children, in the service's process group), then Serve's HTTP proxy on the
service's port, with ``workers`` replicas of one deployment whose ``__call__`` takes the lab's own contract
(health check, ``POST /api/v1/ml/<chain>/predict?model=NAME`` with the features as the body) and hands each
prediction to ``@serve.batch``, Ray's own dynamic batching (``max_batch_size``, ``max_wait_ms``). Usage
statistics and the dashboard are off; nothing is fetched. SIGTERM shuts Serve and Ray down.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from api_common.contract import HEALTH_PATH, predict_path  # noqa: E402
from api_common.errors import ApiError  # noqa: E402
from api_common.servers import cpu_count  # noqa: E402
from api_common.validation import parse_body  # noqa: E402
from api_model.model_servers import SETTINGS_ENV, Batches, Item, load_settings  # noqa: E402
from api_model.schemas import FEATURES, check_model_name  # noqa: E402

# Requests one replica holds at once: Ray's default of 5 would cap every batch at 5 (max_ongoing_requests
# bounds what @serve.batch can see); the batch cap, with room for the next batch to gather.
ONGOING_PER_BATCH = 2


def cluster() -> str:
    """The address of a Ray cluster to deploy to (``LAB_RAY_ADDRESS``, e.g. ``auto`` on its head), or "": a Ray
    of this process's own."""
    return os.environ.get("LAB_RAY_ADDRESS", "").strip()


def deployment(settings):
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    wait_s = (settings.max_wait_ms if settings.max_wait_ms is not None else 5.0) / 1000

    def error(err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    @serve.deployment(
        num_replicas=settings.worker_count(),
        max_ongoing_requests=ONGOING_PER_BATCH * settings.max_batch_size,
        # On one machine the replicas share it, as the lab's workers do; on a cluster each takes a worker's CPU
        # (the head offers none), so that Ray places them on the worker containers.
        ray_actor_options={"num_cpus": 1 if cluster() else 0},
        health_check_period_s=2,
    )
    class Scorer:
        def __init__(self):
            self.batches = Batches()

        @serve.batch(max_batch_size=settings.max_batch_size, batch_wait_timeout_s=wait_s)
        async def predict(self, items: list[Item]) -> list[dict]:
            return self.batches.answer(items)

        async def __call__(self, request: Request):
            path, method = request.url.path, request.method
            try:
                if path == HEALTH_PATH:
                    if method != "GET":
                        raise ApiError(405, "method_not_allowed", "use GET", headers={"Allow": "GET"})
                    return JSONResponse({"status": "OK"})
                if path != predict_path(settings.chain):
                    raise ApiError(404, "not_found", f"no route {path}")
                if method != "POST":
                    raise ApiError(405, "method_not_allowed", "use POST", headers={"Allow": "POST"})
                raw = await request.body()
                features = parse_body(raw, FEATURES, settings.max_body_bytes)
                name = check_model_name(request.query_params.get("model", settings.default_model))
                return JSONResponse(await self.predict(Item(features, name)))
            except ApiError as err:
                return error(err)

    return Scorer


def app(args: dict | None = None):
    """The deployment bound to the settings in the environment: the application KubeRay's RayService deploys
    (``import_path: api_model.model_servers.rayserve:app`` in deploy/k8s/model-ray.yaml)."""
    return deployment(load_settings()).bind()


def main() -> int:
    import ray
    from ray import serve

    settings = load_settings()
    env = {k: os.environ[k] for k in (SETTINGS_ENV, "PROMETHEUS_MULTIPROC_DIR") if k in os.environ}
    env |= {k: v for k, v in os.environ.items() if k.startswith(f"MODEL_{settings.chain.upper()}_")}
    if cluster():  # a Ray cluster started apart (compose's ray profile): its head is this machine
        ray.init(address=cluster(), log_to_driver=False, runtime_env={"env_vars": env})
    else:
        ray.init(num_cpus=cpu_count(), include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env},
                 _temp_dir=os.environ.get("LAB_RAY_TMP") or None)  # fmt: skip
    # The HTTP proxy on the head alone: the scoring handler calls it there; the replicas run on the workers.
    serve.start(proxy_location="HeadOnly", http_options={"host": settings.host, "port": settings.port},
                logging_config={"log_level": "WARNING"})  # fmt: skip
    serve.run(deployment(settings).bind(), name="lab", route_prefix="/", blocking=False)
    print(json.dumps({"rayserve": "up", "port": settings.port}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    serve.shutdown()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
