# Thin wrapper: npm scripts and the stack tooling (node ops/cli.ts, TypeScript) do the work.
# Every target runs with the pinned Node.js (.node-version) first on PATH, fetched into .tools/
# when the system node is another version.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)
OPS := node ops/cli.ts

.PHONY: help install build test smoke bench bench-check bench-profile soak lint up down logs ps restart rotate-secret backup users certs env images swarm-up swarm-down swarm-update

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json ## install npm dependencies (npm ci)

build: install ## compile the service into dist/
	npm run build

test: install ## everything CI runs before Docker: lint, jest (real redis-server), native stack + HTTPS smoke, ACME against Pebble
	$(OPS) ensure-tools redis-server nginx mkcert chromium promtool shellcheck yamllint kubectl \
		certbot openssl pebble pebble-challtestsrv certutil prometheus-blackbox-exporter
	npm run lint
	npm test
	npm run test:stack
	npm run test:acme

smoke: install ## HTTPS smoke tests against the running stack (BASE_URL to override)
	$(OPS) smoke

bench/node_modules/.package-lock.json: bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund

bench: build bench/node_modules/.package-lock.json ## benchmarks vs bare Express and a tutorial session app, logins, timing, memory; prints ratios (BENCH_QUICK=1: short)
	$(OPS) ensure-tools redis-server nginx mkcert wrk
	npm run bench

bench-check: build bench/node_modules/.package-lock.json ## make bench, then exit 1 when a target is missed (for humans, never CI)
	$(OPS) ensure-tools redis-server nginx mkcert wrk
	BENCH_CHECK=1 npm run bench

bench-profile: build ## CPU profile (node --cpu-prof) of GET /api/me under load, summed by package and function
	$(OPS) ensure-tools redis-server nginx mkcert wrk
	node bench/profile.ts

soak: install ## 5-minute mixed soak against the running stack: RSS curve, errors, restarts (SOAK_SECONDS)
	$(OPS) soak

lint: install ## typecheck, shellcheck, nginx -t, promtool, yamllint, Node pin
	npm run lint

up: install ## start the stack (Docker when an engine answers, else native; STACK=docker|native forces)
	$(OPS) up

down: install ## stop the stack (data is kept)
	$(OPS) down

logs: install ## follow the stack's logs, readable on a terminal, JSON when piped (ARGS=service to pick one)
	set -o pipefail; $(OPS) logs $(ARGS) | $(OPS) pretty-logs

ps: install ## list the stack's processes / services
	$(OPS) ps

restart: install ## restart the stack, or ARGS=service|nginx|redis (keeps data and sessions)
	$(OPS) restart $(ARGS)

swarm-up: install ## Docker Swarm: 3 service replicas, Redis + Sentinel, on a single-node swarm, or NODES=3: three engines in containers with a registry (docs/scaling.md)
	$(OPS) swarm up

swarm-update: install ## Docker Swarm: rebuild the service image (on NODES=3: push a new tag) and roll it out, one replica at a time
	$(OPS) swarm update

swarm-down: install ## Docker Swarm: remove the stack, and stop the NODES=3 cluster (Redis volumes and node data are kept)
	$(OPS) swarm down

rotate-secret: install ## prepend a new session secret, keep the old one, restart the service
	$(OPS) rotate-secret

backup: install ## consistent copy of Redis data into backups/
	$(OPS) backup

# `make users add alice` works too: the words after `users` become its arguments, not targets.
ifeq (users,$(firstword $(MAKECMDGOALS)))
  USERS_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
  $(eval $(USERS_ARGS):;@:)
endif

users: install ## user CLI in the running stack: make users add alice (or ARGS="add alice")
	$(OPS) users $(ARGS) $(USERS_ARGS)

certs: install ## local CA + localhost certificate in certs/ (never overwrites your own)
	$(OPS) certs

env: install ## create .env with fresh secrets if missing
	$(OPS) env

images: install ## offline/air-gapped build path: local stand-ins for the base images + the service image
	$(OPS) images
