# Thin wrapper: npm scripts and the stack tooling (node ops/cli.ts, TypeScript) do the work.
# Every target runs with the pinned Node.js (.node-version) first on PATH, fetched into .tools/
# when the system node is another version.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)
OPS := node ops/cli.ts

.PHONY: help install build test smoke bench lint up down logs ps restart rotate-secret backup users certs env images

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json ## install npm dependencies (npm ci)

build: install ## compile the service into dist/
	npm run build

test: install ## everything CI runs before Docker: lint, vitest (real redis-server), native stack + HTTPS smoke
	$(OPS) ensure-tools redis-server nginx openssl chromium promtool shellcheck yamllint
	npm run lint
	npm test
	npm run test:stack

smoke: install ## HTTPS smoke tests against the running stack (BASE_URL to override)
	$(OPS) smoke

bench: build ## benchmarks: login timing (enumeration), hashing under load; prints ratios
	$(OPS) ensure-tools redis-server
	npm run bench

lint: install ## typecheck, shellcheck, nginx -t, promtool, yamllint, Node pin
	npm run lint

up: install ## start the stack (Docker when an engine answers, else native; STACK=docker|native forces)
	$(OPS) up

down: install ## stop the stack (data is kept)
	$(OPS) down

logs: install ## follow the stack's logs (ARGS=service to pick one)
	$(OPS) logs $(ARGS)

ps: install ## list the stack's processes / services
	$(OPS) ps

restart: install ## restart the stack, or ARGS=service|nginx|redis (keeps data and sessions)
	$(OPS) restart $(ARGS)

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
