# Pixel Pet tasks. `make help` lists them. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# uv from PATH, or the PyPI package installed into the machine's Python by `make deps`.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# apt-get needs root: the project's machines are root, GitHub's runners use sudo.
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install uv (if missing) and the locked Python dependencies
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.9'
	$(UV) sync --frozen

.PHONY: run
run: deps ## Run the service on http://127.0.0.1:8000 (embedded dev database unless PIXELPET_MONGODB_URI is set)
	$(UV) run --frozen pixelpet serve

.PHONY: token
token: deps ## Print a development bearer token for owner SUB (default dev-player)
	@$(UV) run --frozen pixelpet token --sub "$${SUB:-dev-player}"

# Debian's packages the tests run for real (observability/tools.py lists them, with why): curl, Prometheus,
# Alertmanager and promtool, Podman with runc, mmdebstrap and Debian's archive keys (the image test), nginx,
# etcd (the Kubernetes control plane of tests/cluster) and Chromium. Only the missing ones are installed:
# GitHub's Ubuntu runners already have runc (in Docker's containerd.io, which the runc package conflicts with)
# and Google Chrome.
.PHONY: tools
tools: deps ## Install the programs the tests run (Debian packages; Jaeger, Sloth, actionlint, helm, Toxiproxy, Kubernetes, kwok, Argo Rollouts built from Go)
	@missing="$$($(UV) run --frozen python -m observability.tools missing-packages)"; \
	  if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi
	$(UV) run --frozen python -m observability.tools

.PHONY: test
test: tools ## Run every check: lint, types and the whole test suite
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy
	$(UV) run --frozen python -m tests.suite  # two pytest runs at once (decision 23), then the 15 slowest tests of both

.PHONY: test-strawberry-latest
test-strawberry-latest: tools ## The upgrade guard: the whole suite against the newest strawberry-graphql release
	$(UV) run --frozen --with strawberry-graphql --upgrade-package strawberry-graphql \
	  python -c "import importlib.metadata as m; print('strawberry-graphql', m.version('strawberry-graphql'))"
	$(UV) run --frozen --with strawberry-graphql --upgrade-package strawberry-graphql python -m tests.suite

.PHONY: check
check: deps ## Before every commit: lint, types, unit and in-process API tests (about a minute; no tools needed)
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest tests/unit tests/api

.PHONY: lint
lint: deps ## Lint and type-check only
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy

.PHONY: fmt
fmt: deps ## Format and auto-fix
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

.PHONY: bench
bench: deps ## Run the benchmark (a few minutes) and rewrite docs/performance.md
	$(UV) run --frozen python -m bench --write

.PHONY: soak
soak: deps ## Soak one instance for MINUTES (default 30) of mixed traffic; rewrites the soak section of docs/performance.md
	$(UV) run --frozen python -m bench.soak --minutes $${MINUTES:-30} --write

.PHONY: schema
schema: deps ## Regenerate schema.graphql from the code
	$(UV) run --frozen pixelpet schema > schema.graphql

.PHONY: rules
rules: tools ## Regenerate the SLO rules (observability/prometheus/rules/slos.yml) from observability/slos.yaml
	$(UV) run --frozen python -m observability.tools slo-rules

.PHONY: dashboards
dashboards: deps ## Regenerate the Grafana dashboards (observability/grafana/dashboards/*.json)
	$(UV) run --frozen python -m observability.grafana.dashboards

.PHONY: observe
observe: tools ## Run Collector, Jaeger, Prometheus and Alertmanager locally against `make run` (Ctrl-C stops)
	$(UV) run --frozen python -m observability.stack

# Where and how `make deploy` installs; tests/cluster runs it against a real control plane with its own.
NAMESPACE ?= pixelpet
HELM ?= helm
KUBECTL ?= kubectl
DEPLOY_VALUES ?=
ROLLOUT_TIMEOUT ?= 45m

.PHONY: deploy
deploy: ## Helm upgrade ENV (staging|production) to image VERSION through the canary (deploy.yml runs this)
	@test -n "$(ENV)" && test -n "$(VERSION)" || { echo "usage: make deploy ENV=staging VERSION=1.2.3" >&2; exit 2; }
	$(HELM) upgrade --install pixelpet deploy/helm/pixelpet --namespace $(NAMESPACE) --create-namespace \
	  --values deploy/helm/pixelpet/values-$(ENV).yaml $(DEPLOY_VALUES) --set image.tag=$(VERSION) \
	  --wait --timeout 10m
	@# Waits for this upgrade's canary (not the old Healthy), fails at once when it is aborted (Degraded) or
	@# paused for a person (inconclusive analysis), and succeeds when the new version is stable.
	KUBECTL="$(KUBECTL)" deploy/wait-for-rollout.sh $(NAMESPACE) pixelpet $(ROLLOUT_TIMEOUT)
