"""Triton Inference Server as the model tier, through PyTriton: Triton's own dynamic batcher.

``python -m api_model.model_servers.triton``, run by the Triton virtualenv's Python (PyTriton 0.7 needs
numpy < 2, the lab's lock has 2.x: ``make servers`` builds that virtualenv apart, from
requirements/triton.txt). PyTriton starts the ``tritonserver`` that ships inside its wheel; Triton
batches requests of the same shape (at most ``max_batch_size``, waiting at most ``max_wait_ms``; 5 ms when
the settings leave batching off) and hands each batch to ``workers`` instances of one inference function in
this process, which answer it with the lab's backend. Its HTTP API is KServe v2: ``POST
/v2/models/scorer/infer`` with named tensors ``features`` (FP64) and ``model`` (BYTES), answered with
tensor ``score`` (the ``kserve`` protocol); ``/v2/models/scorer/ready`` for health (the server says it is
ready before its model is). Its gRPC and metrics ports listen on free loopback ports.

Triton's Python backend stub for 3.11 links the system's ``libpython3.11.so.1.0`` (Debian's 3.11.2 here)
while it runs this interpreter's standard library (3.11.7): 3.11.7's ``multiprocessing`` then calls an
``RLock._recursion_count`` that 3.11.2's ``_thread`` lacks, and the model fails to start (seen here, 0.5.5
and 0.7.0). The stub must load this interpreter's own libpython: its folder goes first on
``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import os
import signal
import sys
import sysconfig

import numpy as np

from api_common.ports import free_ports
from api_model.model_servers import Batches, Item, load_settings

MODEL = "scorer"


def _own_libpython() -> None:
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, os.environ.get("LD_LIBRARY_PATH")) if p)


def main() -> int:
    _own_libpython()
    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    settings = load_settings()
    batches = Batches(settings)
    wait_ms = settings.max_wait_ms if settings.max_wait_ms is not None else 5.0

    @batch
    def infer(features: np.ndarray, model: np.ndarray) -> dict[str, np.ndarray]:
        items = [Item([float(x) for x in row], name[0].decode()) for row, name in zip(features, model, strict=True)]
        scores = [a["detail"] for a in batches.answer(items)]
        return {"score": np.asarray(scores, dtype=np.float64).reshape(-1, 1)}

    grpc_port, metrics_port = free_ports(2)
    config = TritonConfig(http_address=settings.host, http_port=settings.port, grpc_address="127.0.0.1",
                          grpc_port=grpc_port, metrics_port=metrics_port, allow_metrics=False)  # fmt: skip
    with Triton(config=config) as triton:
        triton.bind(
            model_name=MODEL, infer_func=[infer] * settings.worker_count(),
            inputs=[Tensor(name="features", dtype=np.float64, shape=(-1,)),
                    Tensor(name="model", dtype=bytes, shape=(1,))],
            outputs=[Tensor(name="score", dtype=np.float64, shape=(1,))],
            config=ModelConfig(max_batch_size=settings.max_batch_size,
                               batcher=DynamicBatcher(max_queue_delay_microseconds=int(wait_ms * 1000))),
        )  # fmt: skip
        signal.signal(signal.SIGTERM, lambda *_: triton.stop())
        triton.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
