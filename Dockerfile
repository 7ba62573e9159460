# authstack service image. Builds with BuildKit and with the legacy builder (no RUN --mount,
# no heredocs), from the same pinned base in every stage: argon2 is a native addon, so the
# node_modules built here must run on exactly this libc and Node ABI.
#   docker build -t authstack/service .            (docker-compose.yml does this for `make up`)
# The exact Node.js version is pinned in .node-version; `make lint` checks this default against it.
ARG NODE_VERSION=24.22.3

# --- deps: every dependency, for the TypeScript build --------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS deps
# Build logs without npm's update and funding notices.
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false
WORKDIR /app
# Only the manifests: this layer (the slow npm ci) is reused until the lock file changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=warn

# --- build: compile TypeScript into dist/ -------------------------------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY service/src ./service/src
RUN npm run build

# --- prod-deps: production dependencies only ----------------------------------------------------
FROM deps AS prod-deps
# Pruning the already-installed tree avoids a second download and keeps argon2's prebuilt
# binary exactly as installed (and checked) above.
RUN npm prune --omit=dev --no-audit --no-fund \
 && node -e "require('argon2')"

# --- acme: the certificate renewer (TLS_MODE=acme; compose builds it with target: acme) -------
# The service's code plus certbot (the ACME client, docs/edge.md) and openssl (the placeholder).
# It runs as root, without any capability (docker-compose.yml): the volumes it writes are shared
# with nginx, which may create them first (root-owned), and root is what certbot's own image uses.
# Before runtime, so that a plain `docker build .` still gives the service image.
FROM node:${NODE_VERSION}-bookworm-slim AS acme
RUN apt-get update \
 && apt-get install -y --no-install-recommends certbot openssl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/authstack-acme /var/www/acme /etc/authstack/tls \
 && certbot --version
ENV NODE_ENV=production \
    ACME_STATE_DIR=/var/lib/authstack-acme \
    ACME_WEBROOT=/var/www/acme \
    TLS_CERT=/etc/authstack/tls/fullchain.pem \
    TLS_KEY=/etc/authstack/tls/privkey.pem
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Healthy once a certificate (the placeholder at first) is in place for nginx.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["sh", "-c", "test -s \"$TLS_CERT\""]
# prepare: reinstall what certbot holds, or a placeholder; then keep it renewed.
CMD ["sh", "-c", "node dist/acme-renewer.js prepare && exec node dist/acme-renewer.js"]

# --- runtime ------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG NODE_VERSION
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="authstack" \
      org.opencontainers.image.description="Session auth service: Express 5, Redis sessions, argon2id" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# The code stays owned by root and read-only to the node user: a compromised process cannot
# rewrite the application, even where the container's root file system is writable.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# curl is not in the slim image: probe /healthz with node's built-in fetch.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The server drains connections and closes Redis on SIGTERM (what `docker stop` sends).
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
