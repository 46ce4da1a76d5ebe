# cdr-pipeline: one image, three commands (produce, enrich, simulate).
# Build: docker build -t cdr-pipeline .      Run: docker run cdr-pipeline produce

# --- build: compile TypeScript with the dev dependencies
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# patch-package applies patches/ on install (docs/kafkajs-patch.md).
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schemas ./schemas
RUN npm run build

# --- runtime: production dependencies and the compiled CLI only
FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    # A capped young generation, two malloc arenas for the producer's two threads and a fixed mmap
    # threshold for its batch buffers keep the producer under 256 MB on multi-million-row
    # responses (docs/performance.md; scripts/node-flags.ts).
    NODE_OPTIONS=--max-semi-space-size=8 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
RUN chmod 0755 dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/cdr-pipeline
# The image's unprivileged user (uid 1000); nothing in /app is writable by it.
USER node
EXPOSE 9464
ENTRYPOINT ["cdr-pipeline"]
CMD ["produce"]
