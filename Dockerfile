# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (the SQLite driver included), so the binary is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /filegraph . && mkdir /data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /filegraph /filegraph
COPY --from=build --chown=65532:65532 /data /data
ENV ADDR=:8080 DATA_DIR=/data
# For SQLite and disk storage; production points DATABASE_URL and S3_BUCKET elsewhere.
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/filegraph"]
