# The two sacred commands: `make run` (set up + serve the demo) and `make test` (set up + pass the tests).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
WORKSPACE ?= .rca/workspace

.PHONY: setup run test lint bench eval eval-holdout eval-large eval-rs demo clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	@test -f $(WORKSPACE)/catalog.yaml || $(BIN)/python -m evals.generator --family pii_leak_deploy --seed 1 --size small --out $(WORKSPACE)

run: demo  # seeds the state DB (incidents, a demo admin key) and prints two curls, then serves
	RCA_WORKSPACE_DIR=$(WORKSPACE) $(BIN)/rca seed
	RCA_WORKSPACE_DIR=$(WORKSPACE) $(BIN)/uvicorn api.main:app --host 127.0.0.1 --port 8000

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy agent tools api

bench: setup
	$(BIN)/python -m bench

eval: setup
	$(BIN)/python -m evals.run
	$(BIN)/python -m evals.crash_sweep  # perturbed scenarios: report or one-line error, never a traceback

eval-holdout: setup
	$(BIN)/python -m evals.run --holdout --no-baselines

eval-rs: setup  # the RS benchmark: 68 real stall incidents, segment answers (results/rs.md)
	$(BIN)/python -m evals.run --rs

eval-large: setup  # the suite's seeds at ~2M rows each (Parquet, 2.4 GB each under evals/scenarios/large*)
	$(BIN)/python -m evals.run --size large --no-baselines
	$(BIN)/python -m evals.run --size large --holdout --no-baselines

clean:
	rm -rf $(VENV) .rca evals/scenarios

# --- Slack bot (api/slack, docs/slack.md): the app manifest with this service's public URL ---
.PHONY: slack-manifest
RCA_PUBLIC_BASE_URL ?= https://rca.example.com
slack-manifest:
	@sed 's#https://rca.example.com#$(RCA_PUBLIC_BASE_URL)#g' deploy/slack-manifest.yaml
# --- end Slack bot ---
