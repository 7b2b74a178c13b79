# syntax=docker/dockerfile:1
# The playground's browser files come from npm (web/package-lock.json).
FROM node:20 AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/web/node_modules web/node_modules
RUN ./scripts/playground-assets.sh
# Pure Go (the SQLite driver included), so the binary is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /filegraph . && mkdir /data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /filegraph /filegraph
COPY --from=build --chown=65532:65532 /data /data
# Metrics on their own port: reachable by a scraper beside the container,
# published only where the operator chooses.
ENV ADDR=:8080 DATA_DIR=/data METRICS_ADDR=:9464
# For SQLite and disk storage; production points DATABASE_URL and S3_BUCKET elsewhere.
VOLUME /data
EXPOSE 8080 9464
USER nonroot:nonroot
ENTRYPOINT ["/filegraph"]
