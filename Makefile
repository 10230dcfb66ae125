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

# Debian's packages the tests run for real: curl (the README test runs its example as printed), Prometheus,
# Alertmanager and promtool (observability tests), Podman with runc and mmdebstrap (the image test), nginx
# (the local stack's load balancer, run in front of two replicas), Chromium (the /play page's browser tests;
# GitHub's Ubuntu runners have Google Chrome instead, which the tests use when there is no chromium).
DEBIAN_TOOLS := curl prometheus prometheus-alertmanager podman runc mmdebstrap nginx
BROWSER := $(shell command -v chromium >/dev/null || command -v google-chrome >/dev/null || echo chromium)

.PHONY: tools
tools: deps ## Install the programs the tests run (Debian packages; Jaeger, Sloth, actionlint, helm, Toxiproxy built from Go)
	@missing="$(BROWSER)"; for tool in curl promtool prometheus prometheus-alertmanager amtool podman runc mmdebstrap nginx; do \
	  command -v $$tool >/dev/null || missing=yes; done; \
	  if [ -n "$$missing" ]; then $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(DEBIAN_TOOLS) $(BROWSER) >/dev/null; fi
	$(UV) run --frozen python -m observability.tools

.PHONY: test
test: tools ## Run every check: lint, types and the whole test suite
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest

.PHONY: test-strawberry-latest
test-strawberry-latest: tools ## The upgrade guard: the whole suite against the newest strawberry-graphql release
	$(UV) run --frozen --with strawberry-graphql --upgrade-package strawberry-graphql \
	  python -c "import importlib.metadata as m; print('strawberry-graphql', m.version('strawberry-graphql'))"
	$(UV) run --frozen --with strawberry-graphql --upgrade-package strawberry-graphql pytest

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

.PHONY: deploy
deploy: ## Helm upgrade ENV (staging|production) to image VERSION through the canary (deploy.yml runs this)
	@test -n "$(ENV)" && test -n "$(VERSION)" || { echo "usage: make deploy ENV=staging VERSION=1.2.3" >&2; exit 2; }
	helm upgrade --install pixelpet deploy/helm/pixelpet --namespace pixelpet --create-namespace \
	  --values deploy/helm/pixelpet/values-$(ENV).yaml --set image.tag=$(VERSION) --wait --timeout 30m
	@# The canary promotes itself step by step, or aborts and rolls back when its analysis fails.
	kubectl --namespace pixelpet wait rollout/pixelpet --for=jsonpath='{.status.phase}'=Healthy --timeout=45m
