# vectordb server image: multi-stage build of the TypeScript gRPC server.
#
# Here (podman, no registry; see scripts/container-base-image.sh and DESIGN.md §6):
#   scripts/container-base-image.sh
#   podman build --format docker --pull=never --network=host -t vectordb:local .
# With Docker and Docker Hub, use the official Node image as the base instead:
#   docker build --build-arg NODE_BASE=node --build-arg NODE_TAG=20-bookworm-slim -t vectordb:local .
#
# Any Debian bookworm image with Node 20 (node + npm on PATH, apt, useradd) works as the base.
# (Image and tag are separate args so that dockerfilelint can see the tag.)
ARG NODE_BASE=localhost/vectordb-node
ARG NODE_TAG=20-bookworm

# How dependencies are installed. `npm ci` (default) installs exactly package-lock.json and fails if
# it is out of sync with package.json. Where the registry mirror lacks some platform-specific optional
# packages (so the lockfile cannot list them and `npm ci` refuses it), build with
#   --build-arg NPM_INSTALL="npm install --no-save"
# which installs the same locked versions without that check and without rewriting the lockfile.
ARG NPM_INSTALL="npm ci"

# ---- deps: production node_modules only (typescript, vitest, buf stay out) ----
FROM ${NODE_BASE}:${NODE_TAG} AS deps
ARG NPM_INSTALL
WORKDIR /app
COPY package.json package-lock.json ./
RUN ${NPM_INSTALL} --omit=dev --no-audit --no-fund

# ---- build: full install + tsc -> dist/ ----
FROM ${NODE_BASE}:${NODE_TAG} AS build
ARG NPM_INSTALL
WORKDIR /app
COPY package.json package-lock.json ./
RUN ${NPM_INSTALL} --no-audit --no-fund
# .dockerignore keeps node_modules, dist, .git, test, bench, data and datasets out of the context.
COPY . .
RUN npm run build

# ---- runtime ----
FROM ${NODE_BASE}:${NODE_TAG} AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT to node and reaps zombies; node as PID 1 would
# get no default signal handling from the kernel. jemalloc as the allocator: glibc's malloc keeps the
# memory of large requests in its brk heap after they are freed. Measured after 40 rejected 20 MiB
# requests, 30 s idle: RSS 326-335 MiB with glibc, 278 MiB with jemalloc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libjemalloc2 \
 && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vectordb \
 && useradd --system --uid 10001 --gid vectordb --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin vectordb \
 && mkdir -p /data \
 && chown vectordb:vectordb /data \
 && chmod 0750 /data

ENV NODE_ENV=production \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    VECTORDB_HOST=0.0.0.0 \
    VECTORDB_PORT=50051 \
    VECTORDB_DATA_DIR=/data \
    VECTORDB_LOG_LEVEL=info \
    VECTORDB_METRICS_HOST=0.0.0.0 \
    VECTORDB_METRICS_PORT=9464

WORKDIR /app
# Application files stay root-owned (read-only to the server); only /data is writable.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto

USER 10001:10001
VOLUME ["/data"]
EXPOSE 50051 9464

# `health` calls grpc.health.v1.Health/Check (3 s deadline); exit 0 only when SERVING.
# Unhealthy after 6 failures in a row (~1 min). No --start-period: dockerfilelint rejects it
# (its option regex stops at the hyphen); for slow starts on big data dirs pass
# `--health-start-period=2m` to docker/podman run.
# Over TLS (VECTORDB_TLS_CERT_FILE set) the probe connects with TLS to this same container without
# checking the certificate (it probes the local server, whose name need not be 127.0.0.1); under mutual
# TLS it presents VECTORDB_TLS_CLIENT_CERT_FILE / VECTORDB_TLS_CLIENT_KEY_FILE. Health needs no API key.
HEALTHCHECK --interval=10s --timeout=5s --retries=6 \
  CMD node dist/src/cli/main.js health --address "127.0.0.1:${VECTORDB_PORT}" ${VECTORDB_TLS_CERT_FILE:+--tls-skip-verify} || exit 1

# SIGTERM: the server drains in-flight calls (VECTORDB_SHUTDOWN_GRACE_MS, default 10 s) and
# exits 0, so give `docker/podman stop` a timeout above that (e.g. -t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/cli/main.js", "serve"]
