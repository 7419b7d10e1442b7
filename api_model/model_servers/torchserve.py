"""TorchServe as the model tier: the lab archives its handler, writes TorchServe's config, then runs it.

``python -m api_model.model_servers.torchserve``: ``torch-model-archiver`` packs
api_model/model_servers/torchserve_handler.py as model ``scorer`` (the weights are the backend's own, cached
under the lab's state folder: TorchServe 0.12 with torch 2.6+ loads no pickled model, ``weights_only``),
then this process becomes ``torchserve --foreground`` (Java 17), serving ``POST /predictions/scorer`` on the
service's port with ``workers`` Python workers, batches of ``max_batch_size`` within ``max_wait_ms``
(``batchSize``, ``maxBatchDelay``; 5 ms when the settings leave batching off). Its management, metrics and gRPC
APIs listen on free loopback ports; token authorisation and config snapshots are off; its logs go to the
lab's state folder, not to the working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from api_common.ports import free_ports
from api_model.model_servers import load_settings

MODEL = "scorer"
HANDLER = Path(__file__).with_name("torchserve_handler.py")
RESPONSE_TIMEOUT_S = 10


def main() -> int:
    settings = load_settings()
    home = Path(os.environ.get("LAB_STATE_DIR", ".lab")).resolve() / "torchserve" / f"{settings.chain}-{settings.port}"
    shutil.rmtree(home, ignore_errors=True)
    store = home / "store"
    store.mkdir(parents=True)
    bindir = Path(sys.executable).parent
    archive = [str(bindir / "torch-model-archiver"), "--model-name", MODEL, "--version", "1.0", "--handler",
               str(HANDLER), "--export-path", str(store), "--archive-format", "no-archive"]  # fmt: skip
    subprocess.run(archive, check=True)
    wait_ms = settings.max_wait_ms if settings.max_wait_ms is not None else 5.0
    workers = settings.worker_count()
    models = {MODEL: {"1.0": {"defaultVersion": True, "marName": MODEL, "minWorkers": workers, "maxWorkers": workers,
                              "batchSize": settings.max_batch_size, "maxBatchDelay": max(1, round(wait_ms)),
                              "responseTimeout": RESPONSE_TIMEOUT_S}}}  # fmt: skip
    management, metrics_port, worker, grpc, grpc_management = free_ports(5)  # distinct ports
    config = home / "config.properties"
    config.write_text(
        f"inference_address=http://{settings.host}:{settings.port}\n"
        f"management_address=http://127.0.0.1:{management}\n"
        f"metrics_address=http://127.0.0.1:{metrics_port}\n"
        f"model_store={store}\nload_models={MODEL}\nmodels={json.dumps(models)}\n"
        "disable_token_authorization=true\nenable_metrics_api=false\ninstall_py_dep_per_model=false\n"
        f"default_response_timeout={RESPONSE_TIMEOUT_S}\n"
        # Its workers' sockets are named after a port (/tmp/.ts.sock.PORT): two TorchServes must not share one.
        f"initial_worker_port={worker}\n"
        # Its gRPC APIs listen too (7070, 7071 by default): free ports, or a second TorchServe cannot bind them.
        f"grpc_inference_address=127.0.0.1\ngrpc_management_address=127.0.0.1\n"
        f"grpc_inference_port={grpc}\ngrpc_management_port={grpc_management}\n"
    )
    metrics = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    env = os.environ | ({"PROMETHEUS_MULTIPROC_DIR": str(Path(metrics).resolve())} if metrics else {})
    # TorchServe refuses to start while another's PID file is in the temporary folder: one folder per instance.
    (home / "tmp").mkdir()
    env |= {"TMPDIR": str(home / "tmp"), "LOG_LOCATION": str(home / "logs"), "METRICS_LOCATION": str(home / "logs"),
                        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    cmd = [str(bindir / "torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth", "--model-store",
           str(store), "--ts-config", str(config), "--models", MODEL]  # fmt: skip
    os.execvpe(cmd[0], cmd, env)


if __name__ == "__main__":
    sys.exit(main())
