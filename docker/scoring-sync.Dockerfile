# scoring-sync: built from the repository root, e.g. `make docker-build`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics \
    LAB_STATE_DIR=/tmp/lab \
    SCORING_SYNC_HOST=0.0.0.0 \
    SCORING_SYNC_PORT=5001

WORKDIR /app
RUN useradd --create-home --uid 10001 lab

# Dependencies in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['dev']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
# Unit tests run in the build, as in the original lab (the integration tests need the whole stack).
RUN pip install --no-deps . \
    && python -m pytest -q -p no:cacheprovider tests/api_model tests/api_common tests/api_scoring/test_service.py tests/lab/test_stack.py \
    && rm -rf tests

USER lab
EXPOSE 5001
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5001/api/v1/healthcheck', timeout=2).status != 200)"]
# The same launcher as `make up`: one source of truth for how the service starts.
CMD ["python", "-m", "lab", "serve", "scoring-sync"]
