# studypredict — see README.md. `make serve` and `make test` are all a fresh clone needs.
PYTHON ?= python3.11
VENV := .venv
SERVE_VENV := .venv-serve
DEV := $(VENV)/bin
SRV := $(SERVE_VENV)/bin
PIP_FLAGS := --quiet --disable-pip-version-check
# The Procfile's web command, run as Elastic Beanstalk runs it.
WEB_COMMAND = $(shell sed -n 's/^web: *//p' Procfile)

.PHONY: install serve train publish test test-serving test-dev test-tools soak lint lock bundle bench release-bench inprocess-bench clean

# The requirements*.txt files are locks made by `make lock`: every package
# pinned with its hashes, so pip checks each download against them
# (--require-hashes is implied) and installs only what `make lock` resolved.
$(VENV)/.installed: requirements.txt requirements-train.txt requirements-test-serving.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(DEV)/pip install $(PIP_FLAGS) -r requirements-dev.txt
	touch $@

# The serving environment holds requirements.txt (plus pytest for its tests)
# and nothing else: what Elastic Beanstalk installs.
$(SERVE_VENV)/.installed: requirements.txt requirements-test-serving.txt
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SRV)/pip install $(PIP_FLAGS) -r requirements-test-serving.txt
	touch $@

install: $(VENV)/.installed $(SERVE_VENV)/.installed

serve: $(SERVE_VENV)/.installed
	PATH="$(CURDIR)/$(SERVE_VENV)/bin:$$PATH" $(WEB_COMMAND)

train: $(VENV)/.installed
	$(DEV)/python -m train $(ARGS)

publish: $(VENV)/.installed
	$(DEV)/python -m export $(ARGS)

# Tests assert (B101), and tests and benchmarks only talk to loopback URLs they build (B310), draw seeded,
# non-secret randomness for load (B311) and run git/make from PATH (B607); the
# make read-only folders on purpose (B103); the code that ships gets every check.
BANDIT_TEST_SKIPS := --skip B101,B103,B404,B603,B310,B311,B607
lint: $(VENV)/.installed
	$(DEV)/ruff check .
	$(DEV)/bandit --quiet --configfile pyproject.toml --recursive server model_store train export deploy
	$(DEV)/bandit --quiet --configfile pyproject.toml --recursive tests benchmarks $(BANDIT_TEST_SKIPS)

# Resolve the short requirements*.in files into the hashed requirements*.txt
# locks. Existing pins are kept: ARGS="--upgrade-package NAME" (or --upgrade)
# to move. Each upper layer is compiled with the lower locks as constraints, so
# every layer installs the same versions. uv reads PyPI, not pip.conf: set
# UV_INDEX_URL for a mirror. Platform linux: the lock does not depend on who runs it.
UV_COMPILE = $(DEV)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform linux --custom-compile-command "make lock" $(ARGS)
lock: $(VENV)/.installed
	$(UV_COMPILE) requirements.in -o requirements.txt
	$(UV_COMPILE) requirements-train.in -c requirements.txt -o requirements-train.txt
	$(UV_COMPILE) requirements-test-serving.in -c requirements.txt -o requirements-test-serving.txt
	$(UV_COMPILE) requirements-dev.in -c requirements-train.txt -c requirements-test-serving.txt \
		-o requirements-dev.txt

# Three pytest runs, two at a time (much of each is waiting on a server or a
# child process): the serving suite, then the tests that run our tools
# (benchmarks, deploy, docs), beside the rest of the development suite. A new
# tests/ folder lands in test-dev. --output-sync prints each run's output whole
# as it ends; every run runs, and any failing fails test.
TOOL_TESTS := tests/benchmarks tests/deploy tests/docs
test: install lint
	$(MAKE) --no-print-directory --jobs=2 --keep-going --output-sync=target test-dev test-serving test-tools

test-serving: $(SERVE_VENV)/.installed
	$(SRV)/python -m pytest tests/server -q

test-dev: $(VENV)/.installed
	$(DEV)/python -m pytest tests -q --ignore=tests/server $(TOOL_TESTS:%=--ignore=%)

test-tools: $(VENV)/.installed
	$(DEV)/python -m pytest $(TOOL_TESTS) -q

# The server benchmark: wrk against the Procfile's server (and through our nginx
# files), each figure a ratio to floors measured in the same run.
bench: install
	$(DEV)/python -m benchmarks.server_bench $(ARGS)

# The release gate: Locust against the Procfile's server; go/no-go and a report.
# ARGS=--record-baseline after a go; ARGS="--url https://staging…" for staging.
release-bench: install
	$(DEV)/python -m benchmarks.release_gate $(ARGS)

# scikit-learn (pandas in) vs onnxruntime at batch sizes 1 to 100,000, with a chart.
inprocess-bench: $(VENV)/.installed
	$(DEV)/python -m benchmarks.inprocess_bench $(ARGS)

# The Elastic Beanstalk source bundle (standard library only: no venv needed).
bundle:
	$(PYTHON) deploy/bundle.py

# 60 s of mixed traffic at the machine's highest rate, every answer checked
# against onnxruntime, worker memory growth < 5% (SOAK_SECONDS to change).
soak: $(VENV)/.installed $(SERVE_VENV)/.installed
	$(DEV)/python -m pytest tests/reliability -m soak -q -s

clean:
	rm -rf $(VENV) $(SERVE_VENV) runs build .pytest_cache
