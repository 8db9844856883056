# cloud-api-adaptor image: the daemon (entrypoint), the peer-pods webhook, peerpod-ctl and the
# agent-protocol-forwarder, run by Node 24 as JavaScript compiled from the TypeScript sources
# (type stripping at run time would cost each process about 45 MiB and start-up time).
#
#   docker build -t cloud-api-adaptor .                     (official Node 24 slim base)
#   bash scripts/build-image.sh                             (a locally made base, no registry)
#
# The base image must be Debian-based with node and npm on PATH (the official node images are).
ARG BASE_IMAGE=docker.io/library/node:24-bookworm-slim

# Production dependencies only. `npm ci` wants a lock entry for every optional platform binary
# of the dev tools, which a registry may not serve: then install from the same lock instead.
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    || { echo "npm ci refused the lock file; installing from it with npm install" >&2; \
         npm install --omit=dev --no-audit --no-fund; } \
    && npm cache clean --force

# The sources compiled to JavaScript (tsconfig.build.json: dist/ keeps the checkout's layout,
# imports rewritten from .ts to .js). The compiler and Node's types at the lock file's versions,
# installed apart: the other dev tools are not needed here.
FROM deps AS build
RUN tools="$(node -p 'const p = require("./package-lock.json").packages; ["typescript", "@types/node"].map((n) => `${n}@${p[`node_modules/${n}`].version}`).join(" ")')" \
    && npm install --prefix /opt/tsc --no-save --no-audit --no-fund $tools \
    && npm cache clean --force
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY providers ./providers
COPY src ./src
RUN /opt/tsc/node_modules/.bin/tsc -p tsconfig.build.json --typeRoots /opt/tsc/node_modules/@types \
    && chmod 0755 dist/bin/*.js

FROM ${BASE_IMAGE}
# iproute2: ip/tc for the VXLAN tunnels; util-linux: nsenter into pod network namespaces;
# tini: reaps the processes the local provider's VMs leave to PID 1.
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 util-linux tini ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist/bin ./bin
COPY --from=build /app/dist/providers ./providers
COPY --from=build /app/dist/src ./src
RUN for name in cloud-api-adaptor peerpod-relay agent-protocol-forwarder peerpod-ctl peerpods-webhook; do \
      ln -s "/app/bin/$name.js" "/usr/local/bin/$name"; \
    done \
    && cloud-api-adaptor -help >/dev/null && peerpod-relay -help >/dev/null
ENV NODE_ENV=production \
    PROBE_PORT=8000
EXPOSE 8000
# The daemon's liveness endpoint; Kubernetes uses the same port for its probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PROBE_PORT || 8000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The provider comes from CLOUD_PROVIDER (or a first argument, as upstream's image takes it).
# A small young generation (as the relay's DaemonSet runs it): the daemon is mostly idle, and
# bench:lifecycle measures about 40 MiB less resident memory with 200 sandboxes than with
# Node's default.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=1", "/app/bin/cloud-api-adaptor.js"]
