# relight's front door. `make help` lists the targets; every target creates what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENV ?= demo
# The estate the estate-* targets act on (estates/ESTATE.yaml; docs/estates.md)
ESTATE ?= demo
# REGION has no default on purpose: the recovery region is always chosen at run time.
REGION ?=
ARGS ?=
# The DR rung for prepare, plan, failover and drill (backup_restore, pilot_light, warm_standby);
# empty: the environment file's strategy.
STRATEGY ?=
# drill: the region to rehearse as lost (e.g. OUTAGE=us-east-1)
OUTAGE ?=
# The data mode of every database stack for render, plan, prepare, failover, drill, readiness and
# launch (snapshot, replica); empty: each stack's data: in the environment file.
DATA ?=
RUNG = $(if $(STRATEGY),--strategy $(STRATEGY)) $(if $(DATA),--data $(DATA))

.DEFAULT_GOAL := help
.PHONY: help setup test test-serial golden scan lint render plan prepare failover failback launch drill report graph discover status teardown local-status local-stop clean bench drift readiness docs estate-plan estate-prepare estate-failover estate-drill estate-readiness estate-status

help: ## Show the targets and what they do
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo ""
	@echo "  Variables: REGION=<aws region> (required where a region is used), ENV=$(ENV), NAME=<test copy>,"
	@echo "             STRATEGY=backup_restore|pilot_light|warm_standby, DATA=snapshot|replica, OUTAGE=<region> (drill),"
	@echo "             ESTATE=$(ESTATE) (the estate-* targets: estates/ESTATE.yaml), ARGS='extra relight flags'"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install relight with its stand-in and dev extras

test: setup ## Run the test suite: a worker per core (pytest-xdist), each test file on one worker with its own stand-in
	$(BIN)/pytest -q -n auto --dist loadfile

test-serial: setup ## The suite in one process (slower; for a debugger or a single-core machine)
	$(BIN)/pytest -q

golden: setup ## Regenerate tests/golden/ from the blueprints' samples (review the diff)
	RELIGHT_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/test_golden.py

SCAN_VENV := .venv-scan

$(SCAN_VENV)/.installed:
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet checkov
	@touch $@

scan: setup $(SCAN_VENV)/.installed ## Render the demo for AWS and scan it with checkov (own virtualenv)
	$(BIN)/relight render --env $(ENV) --region $(or $(REGION),us-west-2) --aws --no-lint --out out/scan
	$(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -d out/scan

lint: setup ## Run ruff, mypy (strict) and import-linter (the layers, pyproject.toml) over the code
	$(BIN)/ruff check src blueprints tests bench
	$(BIN)/ruff format --check src blueprints tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: setup ## Build the documentation pages with MkDocs into site/ (strict: a broken link fails)
	$(BIN)/mkdocs build --strict --site-dir site

define need_region
	@if [ -z "$(REGION)" ]; then echo "REGION is required, e.g. make $@ REGION=us-west-2"; exit 2; fi
endef

render: setup ## Write the templates and parameters for ENV in REGION to out/ (no AWS calls)
	$(need_region)
	$(BIN)/relight render --env $(ENV) --region $(REGION) --out out/$(ENV)-$(REGION) $(RUNG) $(ARGS)

discover: setup ## Show what a failover of ENV into REGION would restore from
	$(need_region)
	$(BIN)/relight discover --env $(ENV) --region $(REGION) $(ARGS)

plan: setup ## Show what a failover of ENV into REGION would do, and each DR rung and data mode's RPO, RTO and cost
	$(need_region)
	$(BIN)/relight plan --env $(ENV) --region $(REGION) $(RUNG) $(ARGS)

prepare: setup ## Before a disaster: stand up in REGION what a failover at STRATEGY must find ready
	$(need_region)
	@if [ -t 0 ]; then yes=; else yes=--yes; fi; \
	set -x; $(BIN)/relight prepare --env $(ENV) --region $(REGION) $(RUNG) $$yes $(ARGS)

# In a terminal relight shows the plan and asks; from a script or CI (no terminal) the make
# target itself is the confirmation, so it passes --yes. `relight failover` alone never assumes it.
failover: setup ## Rebuild ENV in REGION from the newest copies there (the demo runs on the local stand-in)
	$(need_region)
	@if [ -t 0 ]; then yes=; else yes=--yes; fi; \
	set -x; $(BIN)/relight failover --env $(ENV) --region $(REGION) $(RUNG) $$yes $(ARGS)

# FROM: the region the environment failed over to. UNGRACEFUL=1 keeps serving there while the
# data is copied home (no outage; the writes after the snapshot stay there); TEARDOWN=1 deletes
# everything there afterwards instead of returning it to its rung.
FROM ?=
failback: setup ## Once the home region is back: bring ENV home from FROM (e.g. FROM=us-west-2)
	@if [ -z "$(FROM)" ]; then echo "FROM is required, e.g. make failback FROM=us-west-2"; exit 2; fi
	@if [ -t 0 ]; then yes=; else yes=--yes; fi; \
	set -x; $(BIN)/relight failback --env $(ENV) --from $(FROM) $$yes $(if $(UNGRACEFUL),--ungraceful) $(if $(TEARDOWN),--teardown) $(ARGS)

launch: setup ## Build a test copy of ENV in REGION named NAME (stacks ENV-NAME-*)
	$(need_region)
	@if [ -z "$(NAME)" ]; then echo "NAME is required, e.g. make launch REGION=us-west-2 NAME=qa"; exit 2; fi
	$(BIN)/relight launch --env $(ENV) --region $(REGION) --as $(NAME) $(if $(DATA),--data $(DATA)) $(ARGS)

drill: setup ## Rehearse a failover of ENV into REGION (OUTAGE=us-east-1: with it switched off); report in reports/ENV/
	$(need_region)
	$(BIN)/relight drill --env $(ENV) --region $(REGION) $(RUNG) $(if $(OUTAGE),--outage $(OUTAGE)) $(ARGS)

readiness: setup ## Would a failover of ENV into REGION work now? (exit 1 when not; run it on a schedule)
	$(need_region)
	$(BIN)/relight readiness --env $(ENV) --region $(REGION) $(RUNG) $(ARGS)

drift: setup ## Compare ENV's production in its home region with the environment file (exit 1 on drift)
	$(BIN)/relight drift --env $(ENV) $(ARGS)

report: setup ## List ENV's past drills with RTO, RPO and trend; refresh reports/ENV/index.html
	$(BIN)/relight report --env $(ENV) $(ARGS)

graph: setup ## Print ENV's stack dependency graph (Mermaid; ARGS='--format dot' for Graphviz)
	$(BIN)/relight graph --env $(ENV) $(ARGS)

status: setup ## Which region serves ENV, since when, its latch and data (REGION=: that region's stacks)
	$(BIN)/relight status --env $(ENV) $(if $(REGION),--region $(REGION)) $(ARGS)

teardown: setup ## Delete the stacks relight made for ENV in REGION (NAME= for a test copy; never AMIs or snapshots)
	$(need_region)
	$(BIN)/relight teardown --env $(ENV) --region $(REGION) $(if $(NAME),--as $(NAME)) $(ARGS)

# Estates (docs/estates.md): every environment of estates/ESTATE.yaml, in its account, in waves.
# As for the single-environment targets, prepare and failover pass --yes without a terminal.
estate-plan: setup ## The estate's waves, each environment's plan and forecast RTO, the critical path
	$(need_region)
	$(BIN)/relight estate plan --estate $(ESTATE) --region $(REGION) $(ARGS)

estate-prepare: setup ## Before a disaster: the stands: global stacks of ESTATE in every account, through StackSets
	$(need_region)
	@if [ -t 0 ]; then yes=; else yes=--yes; fi; \
	set -x; $(BIN)/relight estate prepare --estate $(ESTATE) --region $(REGION) $$yes $(ARGS)

estate-failover: setup ## Fail every environment of ESTATE over into REGION, wave by wave, under one API budget per account
	$(need_region)
	@if [ -t 0 ]; then yes=; else yes=--yes; fi; \
	set -x; $(BIN)/relight estate failover --estate $(ESTATE) --region $(REGION) $$yes $(ARGS)

estate-drill: setup ## Rehearse the whole estate into REGION; one estate report
	$(need_region)
	$(BIN)/relight estate drill --estate $(ESTATE) --region $(REGION) $(ARGS)

estate-readiness: setup ## Would the estate's failover into REGION work now? (exit 1 when any environment is not ready)
	$(need_region)
	$(BIN)/relight estate readiness --estate $(ESTATE) --region $(REGION) $(ARGS)

estate-status: setup ## Where each environment of ESTATE serves from, its stacks in REGION
	$(need_region)
	$(BIN)/relight estate status --estate $(ESTATE) --region $(REGION) $(ARGS)

local-status: setup ## Show whether the local stand-in is running, and where
	$(BIN)/relight local status

local-stop: setup ## Stop the local stand-in (its simulated world is forgotten)
	$(BIN)/relight local stop

clean: ## Remove the virtualenv, caches and rendered output (not reports/)
	-$(BIN)/relight local stop 2>/dev/null
	rm -rf $(VENV) $(SCAN_VENV) .venv-peers out site .pytest_cache .mypy_cache .ruff_cache

# Every script also has a --quick mode, which the suite runs (tests/test_bench.py) so none rots.
bench: setup ## Print the measured figures (start-up, rendering, cfn-lint, scheduler, stand-in deploy, dead endpoints, lint cache, discovery)
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/standin_graph.py
	$(BIN)/python bench/dead_endpoint.py
	$(BIN)/python bench/lint_cache.py
	$(BIN)/python bench/discovery.py

# Sceptre gets its own virtualenv: 4.7 pins jsonschema<3.3, networkx<2.7 and packaging<25, and
# .venv (moto[server], cfn-lint) has jsonschema 4, networkx 3 and packaging 26.
# A failed install is not fatal: bench/peers.py then says Sceptre cannot run and measures relight.
PEERS_VENV := .venv-peers
SCEPTRE_VERSION ?= 4.7.0
ROUNDS ?= 5

$(PEERS_VENV)/.installed:
	@$(PYTHON) -m venv $(PEERS_VENV) \
	&& $(PEERS_VENV)/bin/python -m pip install --quiet 'sceptre==$(SCEPTRE_VERSION)' \
	&& touch $@ \
	|| echo "bench-peers: Sceptre $(SCEPTRE_VERSION) could not be installed in $(PEERS_VENV) (see above)"

.PHONY: bench-peers
bench-peers: setup $(PEERS_VENV)/.installed ## relight vs Sceptre on one moto server (7 stacks, cold/warm lint cache), and a second demo failover
	$(BIN)/python bench/peers.py --rounds $(ROUNDS) --peers $(PEERS_VENV) $(ARGS)
