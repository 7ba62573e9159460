# Thin wrapper: npm scripts and scripts/*.sh are the source of truth.
# Every target runs with a Node 24 first on PATH (fetched into .tools/ when the system node is older).
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)

.PHONY: help install build test smoke bench lint up down logs ps restart rotate-secret backup users certs env images

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json ## install npm dependencies (npm ci)

build: install ## compile the service into dist/
	npm run build

test: install ## everything CI runs: jest (real redis-server), config checks, native stack + HTTPS smoke
	scripts/ensure-tools.sh redis-server nginx openssl chromium promtool shellcheck
	npm run lint
	npm test
	npm run test:stack

smoke: install ## HTTPS smoke tests against the running stack (BASE_URL to override)
	npm run smoke

bench: build ## benchmarks: login timing (enumeration), hashing under load; prints ratios
	scripts/ensure-tools.sh redis-server
	npm run bench

lint: install ## typecheck, shellcheck, nginx -t, promtool, yamllint
	npm run lint

up: ## start the stack (Docker when an engine answers, else native; STACK=docker|native forces)
	scripts/stack.sh up

down: ## stop the stack
	scripts/stack.sh down

logs: ## follow the stack's logs
	scripts/stack.sh logs

ps: ## list the stack's processes / services
	scripts/stack.sh ps

restart: ## restart the stack's processes / services (keeps data and sessions)
	scripts/stack.sh restart

rotate-secret: ## prepend a new session secret, keep the old one, restart the service
	scripts/stack.sh rotate-secret

backup: ## consistent copy of Redis data into backups/
	scripts/stack.sh backup

# `make users add alice` works too: the words after `users` become its arguments, not targets.
ifeq (users,$(firstword $(MAKECMDGOALS)))
  USERS_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
  $(eval $(USERS_ARGS):;@:)
endif

users: ## user CLI in the running stack: make users add alice (or ARGS="add alice")
	scripts/stack.sh users $(ARGS) $(USERS_ARGS)

certs: ## local CA + localhost certificate in certs/ (never overwrites your own)
	scripts/certs.sh

env: ## create .env with fresh secrets if missing
	scripts/gen-env.sh

images: ## offline build path: local stand-ins for the base images (no registry) + the service image
	scripts/build-standin-images.sh
	scripts/docker-stack.sh compose build service
