# The lab's entry points. Every target goes through the `lab` CLI (lab/cli.py).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run bench compare test up down status load smoke venv clean

# make run and make compare keep the capacity search at 120 s per chain (the quick profile's is 240) to end sooner.
run: $(STAMP)  ## the main job: stack up, verify, every experiment (quick profile), report
	$(BIN)/lab run --capacity-budget-s 120

bench: $(STAMP)  ## the same with the full-length experiments (about 70 minutes on 2 cores, estimated)
	$(BIN)/lab run --full

test: $(STAMP)  ## install everything from scratch and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

up: $(STAMP)  ## start the stack in the background; return once every service is healthy (VARIANT=name)
	$(BIN)/lab up $(if $(VARIANT),--variant $(VARIANT))

compare: $(STAMP)  ## variants side by side: Locust and LoadGen capacity, the decomposition (VARIANTS=...)
	$(BIN)/lab compare --capacity-budget-s 120 $(if $(VARIANTS),--variants $(VARIANTS))

down: $(STAMP)  ## stop every process the lab started
	$(BIN)/lab down

status: $(STAMP)  ## show each service's process and health
	$(BIN)/lab status

load: $(STAMP)  ## write the entities' features into Redis
	$(BIN)/lab load

smoke: $(STAMP)  ## one prediction through each chain
	$(BIN)/lab smoke

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# meinheld (the original lab's sync server) pins an old greenlet that does not build on 3.11; it builds
	@# against the current one. Optional: without it the meinheld variants are skipped and say why.
	-$(BIN)/python -m pip install --quiet wheel && $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation meinheld
	touch $(STAMP)

clean:  ## remove the virtualenv and the lab's state (not the results)
	rm -rf $(VENV) .lab

# ---- Containers: the original lab's interface (needs a Docker engine; not run where this lab is developed) ----
IMAGE   ?= ml-serving-lab
NETWORK ?= ml-serving-lab
SERVICES := model-sync scoring-sync model-async scoring-async
.PHONY: docker-build docker-network docker-run-model-sync docker-run-scoring-sync docker-run-model-async \
	docker-run-scoring-async docker-run-redis docker-stop

docker-build:  ## build the four service images (their unit tests run in the build)
	for s in $(SERVICES); do docker build -f docker/$$s.Dockerfile -t $(IMAGE)-$$s . || exit 1; done
	docker build -f docker/lab.Dockerfile -t $(IMAGE)-lab .

docker-network:
	docker network inspect $(NETWORK) >/dev/null 2>&1 || docker network create $(NETWORK)

docker-run-model-sync: docker-network
	docker run --rm --name lab-model-sync --network $(NETWORK) -p 5000:5000 $(IMAGE)-model-sync

docker-run-scoring-sync: docker-network
	docker run --rm --name lab-scoring-sync --network $(NETWORK) -p 5001:5001 \
		-e SCORING_SYNC_MODEL_URL=http://lab-model-sync:5000 -e SCORING_SYNC_REDIS_URL=redis://lab-redis:6379/0 \
		$(IMAGE)-scoring-sync

docker-run-model-async: docker-network
	docker run --rm --name lab-model-async --network $(NETWORK) -p 8000:8000 $(IMAGE)-model-async

docker-run-scoring-async: docker-network
	docker run --rm --name lab-scoring-async --network $(NETWORK) -p 8001:8001 \
		-e SCORING_ASYNC_MODEL_URL=http://lab-model-async:8000 -e SCORING_ASYNC_REDIS_URL=redis://lab-redis:6379/0 \
		$(IMAGE)-scoring-async

docker-run-redis: docker-network
	docker run --rm --name lab-redis --network $(NETWORK) -p 6379:6379 redis:7-alpine \
		redis-server --save "" --appendonly no --protected-mode no

docker-stop:  ## stop and remove the lab's containers
	-docker rm -f lab-model-sync lab-scoring-sync lab-model-async lab-scoring-async lab-redis
