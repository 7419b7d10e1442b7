# The lab's entry points. Every target goes through the `lab` CLI (lab/cli.py).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run bench compare test up down status load smoke venv clean

run: $(STAMP)  ## the main job: stack up, verify, every experiment (quick profile), report
	$(BIN)/lab run

bench: $(STAMP)  ## the same with the full-length experiments (about 50 minutes on 2 cores)
	$(BIN)/lab run --full

test: $(STAMP)  ## install everything from scratch and run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

up: $(STAMP)  ## start the stack in the background; return once every service is healthy (VARIANT=name)
	$(BIN)/lab up $(if $(VARIANT),--variant $(VARIANT))

compare: $(STAMP)  ## variants side by side: Locust and LoadGen capacity, the decomposition (VARIANTS=...)
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
