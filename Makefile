# The lab's entry points. Every target goes through the `lab` CLI (cli/main.py).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SERVERS_STAMP := $(VENV)/.servers-stamp
VENV_TRITON   := .venv-triton

.PHONY: run bench compare test test-containers check lint up advise example-model down status load smoke venv servers nginx lock-servers clean \
	slowclients bluegreen parity k8s scaleout ablation costmodel

run: $(STAMP)  ## the main job: stack up, verify, every experiment (quick profile), report
	$(BIN)/lab run

bench: $(STAMP)  ## the same with the full-length experiments (about 70 minutes on 2 cores, estimated)
	$(BIN)/lab run --full

test: $(STAMP) $(SERVERS_STAMP) nginx  ## install everything from scratch and run the whole test suite (a Docker engine included)
	$(MAKE) --no-print-directory lint
	@# The container tier (tests/containers) needs an engine: install and start one, else that tier says why it skips.
	-docker/engine.sh
	$(BIN)/python -m pytest -m "not containers_full"

# The container tier grew past 10 minutes with the model servers' image (its wheelhouse and build: about 6 min cold)
# and lab parity (four capacity searches): make test keeps the rest of it (the images, the original interface,
# compose, fuzzing, a killed process, distributed Locust), this runs all of it.
test-containers: $(STAMP) $(SERVERS_STAMP)  ## the whole container tier, its long part too (model servers, Ray, lab parity; about 15 min)
	-docker/engine.sh
	$(BIN)/python -m pytest tests/containers

check: $(STAMP)  ## a change's short loop (a few minutes): lint, the layer contracts, the unit tests, one real stack's smoke
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -q -m "not integration and not containers and not slow"
	$(BIN)/python -m pytest -q -m smoke

lint: $(STAMP)  ## ruff, and import-linter's contracts: layers look down only, no import circle (doc/ARCHITECTURE.md)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --no-cache

up: $(STAMP) $(if $(PROXY),nginx)  ## start the stack in the background; return once every service is healthy (VARIANT=name, CONFIG=file, PROXY=nginx)
	$(if $(PROXY),SCORING_SYNC_PROXY=$(PROXY) SCORING_ASYNC_PROXY=$(PROXY)) $(BIN)/lab up $(if $(VARIANT),--variant $(VARIANT)) $(if $(CONFIG),--config $(CONFIG))

advise: $(STAMP)  ## what to run for your model on this machine (MODEL=path, EXAMPLE=file, BUDGET_MIN=30, ONLY=..., CHAIN=1)
	$(BIN)/lab advise --model $(MODEL) $(if $(EXAMPLE),--example $(EXAMPLE)) $(if $(BUDGET_MIN),--budget-min $(BUDGET_MIN)) \
		$(if $(ONLY),--only $(ONLY)) $(if $(CHAIN),--chain)

example-model: $(STAMP)  ## models to try make advise on, in models/: the lab's MLP as ONNX, joblib, TorchScript, an example
	$(BIN)/python -m benchmark.advise.examples models

ablation: $(STAMP)  ## where each chain's CPU goes, one layer off at a time, and the targets (CHAINS=async,sync; async alone: 19 min here)
	$(BIN)/lab ablation --capacity $(if $(CHAINS),--chains $(CHAINS)) $(ABLATION_ARGS)

costmodel: $(STAMP)  ## the cost model against measured capacity: 14 configurations, 1 and 2 cores (32 min here)
	$(BIN)/lab costmodel $(COSTMODEL_ARGS)

slowclients: $(STAMP) nginx  ## slow clients against each server, facing them directly and behind nginx (SERVERS=..., about 40 min)
	$(BIN)/lab slowclients $(if $(SERVERS),--servers $(SERVERS))

bluegreen: $(STAMP) nginx  ## a blue/green model update and its rollback behind nginx, under load (CHAIN=sync|async)
	$(BIN)/lab bluegreen $(if $(CHAIN),--chain $(CHAIN))

compare: $(STAMP) $(SERVERS_STAMP)  ## variants side by side: Locust and LoadGen capacity, the decomposition (VARIANTS=...)
	$(BIN)/lab compare $(if $(VARIANTS),--variants $(VARIANTS))

down: $(STAMP)  ## stop every process the lab started
	$(BIN)/lab down

status: $(STAMP)  ## show each service's process and health
	$(BIN)/lab status

load: $(STAMP)  ## write the entities' features into Redis
	$(BIN)/lab load

smoke: $(STAMP)  ## one prediction through each chain
	$(BIN)/lab smoke

venv: $(STAMP)

# Exactly the lock's versions, checked against its hashes (requirements/dev.txt, exported from uv.lock).
$(STAMP): pyproject.toml requirements/dev.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@# meinheld (the original lab's sync server) pins an old greenlet that does not build on 3.11; it builds
	@# against the current one. Optional: without it the meinheld variants are skipped and say why.
	-$(BIN)/python -m pip install --quiet wheel && $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation meinheld
	touch $(STAMP)

# The model servers (BentoML, LitServe, Ray Serve, TorchServe) and the real models' libraries (torch CPU, XGBoost,
# sentence-transformers), pinned with their hashes apart from uv.lock (requirements/model-servers.in says why).
# Triton (PyTriton 0.7) needs numpy < 2: a virtualenv of its own, with the lab installed in it (requirements/triton.in).
# The two installs run side by side (separate virtualenvs; mostly unpacking wheels: about a minute saved).
$(SERVERS_STAMP): requirements/model-servers.txt requirements/triton.txt | $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/model-servers.txt & main=$$!; \
	( $(PYTHON) -m venv $(VENV_TRITON) \
	  && $(VENV_TRITON)/bin/python -m pip install --quiet --no-deps --require-hashes -r requirements/triton.txt \
	  && $(VENV_TRITON)/bin/python -m pip install --quiet --no-deps -e . ) & triton=$$!; \
	wait $$main && wait $$triton
	touch $(SERVERS_STAMP)

nginx:  ## Debian's nginx (nginx-light) for PROXY=nginx, installed with apt-get where none is found
	deploy/nginx.sh

servers: $(SERVERS_STAMP)  ## install the model servers and real models (make test and make compare do; make run needs none)

lock-servers: $(STAMP)  ## resolve requirements/model-servers.txt again from model-servers.in
	$(BIN)/python -m lab.lockfile servers

clean:  ## remove the virtualenvs and the lab's state (not the results)
	rm -rf $(VENV) $(VENV_TRITON) .lab

# ---- Containers: the original lab's interface, on a Docker engine (docker/engine.sh starts one) ----
# One Dockerfile builds every image (docker/lab.Dockerfile). Its base is the official python:3.11-slim where a
# registry is reachable, else the lab's own built from Debian's packages (docker/base.sh); the Python
# dependencies come from a wheelhouse built here from the lock, so the build itself reaches no network.
IMAGE      ?= ml-serving-lab
NETWORK    ?= ml-serving-lab
BASE       ?=
LOCAL_BASE ?= $(IMAGE)-base:bookworm
WHEELS     := docker/wheelhouse
SERVICES   := model-sync scoring-sync model-async scoring-async redis
PORT_model-sync := 5000
PORT_scoring-sync := 5001
PORT_model-async := 8000
PORT_scoring-async := 8001
PORT_redis := 6379
# Compose v2 (docker compose) where it is installed, else v1 (docker-compose: Debian 12's).
COMPOSE    ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose) -p $(IMAGE)
.PHONY: lock docker-engine docker-base docker-wheels docker-build docker-build-servers docker-network docker-stop compose-up compose-down \
	compose-locust \
	$(addprefix docker-run-,$(SERVICES))

lock: $(STAMP)  ## resolve uv.lock again from pyproject.toml and export it to requirements/ (what every install uses)
	$(BIN)/uv lock
	$(BIN)/python -m lab.lockfile export

docker-engine:  ## make sure a Docker engine answers (installs Debian's docker.io and starts dockerd where none does)
	docker/engine.sh

docker-base: docker-engine  ## the base image built from Debian's packages, for machines that reach no registry
	docker image inspect $(LOCAL_BASE) >/dev/null 2>&1 || docker/base.sh $(LOCAL_BASE)

$(WHEELS)/.stamp: requirements/dev.txt | $(STAMP)
	$(BIN)/python docker/wheelhouse.py requirements/dev.txt $(WHEELS)
	touch $@

docker-wheels: $(WHEELS)/.stamp  ## the images' wheels, from the lock (checked against its hashes)

docker-build: docker-engine docker-wheels  ## build the five service images and the load generator's (unit tests run in the build)
	docker/build.sh $(IMAGE) $(LOCAL_BASE) "$(BASE)" $(foreach s,$(SERVICES),$(s)=$(PORT_$(s)))

SERVERS_WHEELS := docker/wheelhouse-servers
$(SERVERS_WHEELS)/.stamp: requirements/model-servers.txt | $(STAMP)
	$(BIN)/python docker/wheelhouse.py requirements/model-servers.txt $(SERVERS_WHEELS)
	cp requirements/model-servers.txt $(SERVERS_WHEELS)/model-servers.txt
	touch $@

docker-build-servers: docker-build $(SERVERS_WHEELS)/.stamp  ## the model servers' image (Ray Serve, BentoML, LitServe, torch), for compose's model-servers and ray profiles
	@start=$$(date +%s); DOCKER_BUILDKIT=0 docker build -q -f docker/servers.Dockerfile --build-arg FROM_IMAGE=$(IMAGE)-lab \
		-t $(IMAGE)-model-servers $(SERVERS_WHEELS) >/dev/null \
		&& echo "docker-build: $(IMAGE)-model-servers built in $$(( $$(date +%s) - start )) s"

docker-network:
	@# Five terminals may start at once, and the engine lets two networks share a name: one creates it, under a lock.
	@mkdir -p .lab && flock .lab/docker-network.lock sh -c \
		'docker network inspect $(NETWORK) >/dev/null 2>&1 || docker network create $(NETWORK) >/dev/null'

# Each in its own terminal, as in the original lab; published on 127.0.0.1 only.
docker-run-model-sync docker-run-model-async docker-run-redis: docker-run-%: docker-network
	docker run --rm --name lab-$* --network $(NETWORK) -p 127.0.0.1:$(PORT_$*):$(PORT_$*) $(IMAGE)-$*

docker-run-scoring-sync: docker-network
	docker run --rm --name lab-scoring-sync --network $(NETWORK) -p 127.0.0.1:5001:5001 \
		-e SCORING_SYNC_MODEL_URL=http://lab-model-sync:5000 -e SCORING_SYNC_REDIS_URL=redis://lab-redis:6379/0 \
		$(IMAGE)-scoring-sync

docker-run-scoring-async: docker-network
	docker run --rm --name lab-scoring-async --network $(NETWORK) -p 127.0.0.1:8001:8001 \
		-e SCORING_ASYNC_MODEL_URL=http://lab-model-async:8000 -e SCORING_ASYNC_REDIS_URL=redis://lab-redis:6379/0 \
		$(IMAGE)-scoring-async

docker-stop:  ## stop and remove the lab's containers and its network
	-@docker rm -f $(addprefix lab-,$(SERVICES)) >/dev/null 2>&1; true
	-@docker network ls -q --filter name=^$(NETWORK)$$ | xargs -r docker network rm >/dev/null 2>&1; true

# COMPOSE_PROFILES=queue adds the job-queue chain, =scale the scaled-out model tier (COMPOSE_SCALE replicas);
# COMPOSE_FILES=docker/compose.cpus.yml adds an override file.
comma := ,
compose-up: docker-build $(if $(filter model-servers ray,$(subst $(comma), ,$(COMPOSE_PROFILES))),docker-build-servers)  ## the whole stack under compose, on its own bridge network (COMPOSE_PROFILES, COMPOSE_FILES)
	COMPOSE_PROFILES=$(COMPOSE_PROFILES) MODEL_SERVER=$(MODEL_SERVER) RAY_WORKERS=$(RAY_WORKERS) \
	$(COMPOSE) -f docker-compose.yml $(addprefix -f ,$(COMPOSE_FILES)) up -d --no-build \
		$(if $(COMPOSE_SCALE),--scale model-pool=$(COMPOSE_SCALE)) $(if $(RAY_WORKERS),--scale ray-worker=$(RAY_WORKERS))

# Distributed Locust against the compose stack: a master and LOCUST_WORKERS workers, headless, bounded by
# LOCUST_TIME; its CSV and HTML go to a new folder under results/ (LOCUST_RESULTS).
LOCUST_WORKERS ?= 2
LOCUST_RESULTS ?= results/$(shell date -u +%Y%m%dT%H%M%SZ)-compose-locust
compose-locust:  ## distributed Locust (a master, LOCUST_WORKERS workers) against the compose stack
	mkdir -p $(LOCUST_RESULTS) && chmod 777 $(LOCUST_RESULTS)
	LOCUST_RESULTS=$(abspath $(LOCUST_RESULTS)) LOCUST_WORKERS=$(LOCUST_WORKERS) $(COMPOSE) --profile load up \
		--no-build --scale locust-worker=$(LOCUST_WORKERS) --exit-code-from locust-master locust-master locust-worker
	$(COMPOSE) --profile load rm -sf locust-master locust-worker >/dev/null
	@echo "compose-locust: $(LOCUST_RESULTS)"

# Both stacks up at once: compose's on the README's ports, make up's processes on free ports; their capacity
# searches interleaved (about 25 min with the quick profile). Compose's containers are removed afterwards.
parity: $(STAMP) compose-up  ## the images against make up, both chains interleaved: image/native ratios (PROFILE=quick|full)
	$(BIN)/lab parity --profile $(or $(PROFILE),quick) --compose-files "$(COMPOSE_FILES)"; rc=$$?; $(MAKE) --no-print-directory compose-down; exit $$rc

# The model tier scaled out: 1, then 2 replicas of one CPU share each, each count its own compose stack measured by
# lab capacity --url through its scoring handler, then the ratio (benchmark/scaleout.py). TIER=ray: Ray worker
# containers (RAY_WORKER_CPUS, default 0.5) serving the text model through Ray Serve, the handler on 8005;
# TIER=pool: the lab's model pool with the CPU-bound model (docker/compose.pool-cpus.yml), the handler on 8003.
# CAPACITY_ARGS: lab capacity's options (e.g. --capacity-budget-s 600: a replica of half a core serves a few QPS,
# whose probes need a minute each for the queries a p99 verdict needs). Compose returns before the last handler is
# healthy: each count waits for its health check (3 min at most) before the load.
TIER ?= ray
SCALE_URL_ray := http://127.0.0.1:8005/api/v1/ml/async/predict
SCALE_URL_pool := http://127.0.0.1:8003/api/v1/ml/async/predict
SCALE_UP_ray = COMPOSE_PROFILES=ray RAY_WORKERS=$(1)
SCALE_UP_pool = COMPOSE_PROFILES=scale COMPOSE_SCALE=$(1) COMPOSE_FILES=docker/compose.pool-cpus.yml
scaleout: $(STAMP) docker-build-servers  ## the model tier scaled out, 1 then 2 replicas of one CPU share: capacity and ratio (TIER=ray|pool, about 15 min)
	@runs=""; for n in 1 2; do \
	  $(MAKE) --no-print-directory -s compose-up $(call SCALE_UP_$(TIER),$$n) >/dev/null || exit 1; \
	  for i in $$(seq 180); do curl -sf $(SCALE_URL_$(TIER):/ml/async/predict=/healthcheck) >/dev/null && break; sleep 1; done; \
	  out=$$($(BIN)/lab capacity --url $(SCALE_URL_$(TIER)) --body docker/scaleout-body.json --profile $(or $(PROFILE),quick) $(CAPACITY_ARGS) \
	        | while IFS= read -r line; do echo "$$line" >&2; echo "$$line"; done \
	        | sed -n 's/^report: \(.*\)\/report.html$$/\1/p'); \
	  $(MAKE) --no-print-directory -s compose-down >/dev/null 2>&1; [ -n "$$out" ] || exit 1; runs="$$runs $$out"; \
	done; $(BIN)/python -m benchmark.scaleout $$runs

# Kubernetes manifests for the stack, from compose's table (lab/kube.py); the tests validate them offline.
k8s: $(STAMP)  ## write deploy/k8s again from docker-compose.yml (Deployments, Services, probes, CPU, an HPA per model tier)
	$(BIN)/python -m lab.kube deploy/k8s

compose-down:  ## stop and remove compose's containers and network
	$(COMPOSE) --profile load --profile queue --profile scale --profile model-servers --profile ray down --remove-orphans
